"""2D classification: RELION's Bayesian EM for 2D class averages (expectation, maximisation,
CTF correction, regularisation, class centring), arrays in and arrays out; the Class2D stage
(:mod:`cryopick.stages.class2d`) does the files."""
