"""The `trialflow` command: its options generated from the config models, and what it prints."""
