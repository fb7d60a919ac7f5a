import time, json, numpy as np, pandas as pd
from lifetimes import ParetoNBDFitter, ModifiedBetaGeoFitter, BetaGeoFitter
d = pd.read_csv('/work/wt/h19/tests/cases/clv/cdnow_summary.csv')
x, tx, T = d.x.to_numpy(float), d.t_x.to_numpy(float), d['T'].to_numpy(float)
out = {}
TOL = {"pareto_nbd": 1e-12, "mbgnbd": 1e-8}
for name, F in [("pareto_nbd", ParetoNBDFitter), ("mbgnbd", ModifiedBetaGeoFitter)]:
    t = time.time()
    f = F().fit(x, tx, T, tol=TOL[name], verbose=False)
    p = {k: float(v) for k, v in f.params_.items()}
    ll = -float(f._negative_log_likelihood_) * (len(x) if abs(f._negative_log_likelihood_) < 100 else 1)
    cases = [(39, 2, 30.43, 38.86), (39, 0, 0, 38.86), (52, 10, 30.0, 38.86), (39, 1, 1.71, 38.86), (10, 25, 38.0, 39.0)]
    ce = [float(np.ravel(f.conditional_expected_number_of_purchases_up_to_time(c[0], c[1], c[2], c[3]))[0]) for c in cases]
    pa = [float(np.ravel(f.conditional_probability_alive(c[1], c[2], c[3]))[0]) for c in cases]
    ep = [float(f.expected_number_of_purchases_up_to_time(t_)) for t_ in (1, 39, 78)]
    out[name] = {"params": p, "neg_ll_attr": float(f._negative_log_likelihood_), "cases": cases,
                 "conditional_expected": ce, "p_alive": pa, "expected_purchases_t": [1, 39, 78],
                 "expected_purchases": ep, "seconds": time.time() - t}
print(json.dumps(out, indent=1))
