"""Step 3, the feature plan (task `featurize`): the plan as a YAML file people read and edit.
The featurizers themselves are declared in the top-level `featurizers/` package.
"""
