"""The Drive ingestion Lambda: copy the changed files of a Google Drive folder to the raw bucket.

Deployed by ``medallion deploy`` (infra/template_drive.py) when the profile's ``deploy.drive`` is
set; runs on its EventBridge schedule; starts the pipeline's state machine when a file changed.
Only the standard library, boto3 (in the Lambda runtime), google-auth, requests and tenacity.
"""
