"""The Glue job's script: everything lives in the engine wheel (``--extra-py-files``).

Uploaded as the job's ScriptLocation; kept to one call so the script never needs redeploying
for an engine change (the wheel does).
"""

from engine.run.glue_entry import main

if __name__ == "__main__":
    raise SystemExit(main())
