"""The run report (task `report`): one self-contained HTML file per run, with its charts."""
