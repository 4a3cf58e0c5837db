"""GPU work: one switch between NumPy and CuPy, the kernels behind a run's numeric hot spots
(metric ranks, ensemble selection, quantile binning, level encodings, permutation scoring),
a multi-layer perceptron that trains on either, and the Dask routing that sends GPU trials
to workers declaring a ``GPU`` resource. Everything here runs on NumPy alone; CuPy (the
``gpu`` extra) and a device only make it faster, and results agree within float tolerance.
Importing this package needs NumPy only, so GPU workers and benchmarks stay light.
"""
