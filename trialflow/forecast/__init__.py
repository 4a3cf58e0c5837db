"""Time-series forecasting, the third task: turn a time-ordered table into a regular panel
on one frequency (``series``, ``frequency``), describe each forecast origin without looking
past it (``features``, ``dates``), fit seasonal naive, statistical and a global LightGBM
model (``learners``), judge them on rolling-origin backtests (``backtest``, ``metrics``),
combine them and calibrate 80 % intervals on the backtest residuals (``ensemble``,
``intervals``), and put it together as a fitted, plainly stored
:class:`~trialflow.forecast.forecaster.Forecaster` (``forecaster``). Plain functions and
objects, unit-tested without Prefect; the flow, CLI and registry wire them.
"""
