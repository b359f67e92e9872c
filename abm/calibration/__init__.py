"""Calibration: turn producer tables, price histories and aggregates into model inputs.

Modules (each one purpose; import the one you need):

- :mod:`abm.calibration.table`: read and check a producers CSV (polars).
- :mod:`abm.calibration.cost_curve`: capacity-weighted cost curves: weighted maximum-likelihood
  fits of lognormal, gamma and Weibull families chosen by AIC, and a monotone PCHIP curve.
- :mod:`abm.calibration.population`: synthetic producers and projects by quantiles of a curve.
- :mod:`abm.calibration.shocks`: trend and AR(1) shock process fitted to a history by maximum
  likelihood, with standard errors.
- :mod:`abm.calibration.moments`: method of simulated moments with common random numbers.
- :mod:`abm.calibration.command`: the ``abm calibrate`` command; :mod:`abm.calibration.page` its
  plotly page.

See ``docs/calibration.md``.
"""
