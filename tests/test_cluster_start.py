"""Starting the embedded Dask cluster: a script that calls train() without a main guard
gets a message that says so, in the worker process and in the user's process."""

import subprocess
import sys
import textwrap
import types

import pytest

from trialflow.errors import ConfigError


def test_train_refuses_to_run_inside_a_worker_importing_the_script(monkeypatch):
    import trialflow

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__mp_main__"))
    with pytest.raises(ConfigError, match='if __name__ == "__main__"'):
        trialflow.train("never-read.csv", target="y")


@pytest.mark.integration
def test_a_script_without_a_main_guard_is_told_how_to_fix_it(tmp_path):
    # A real script, run as a user would: its worker processes import it again.
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            import pandas as pd
            import trialflow

            rng = np.random.default_rng(0)
            frame = pd.DataFrame({"x": rng.normal(size=60), "y": rng.normal(size=60)})
            trialflow.train(frame, target="y", time_budget=20, model_name="unguarded")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    assert "ClusterStartError" in done.stderr, done.stderr[-3000:]
    assert str(script) in done.stderr
    assert 'if __name__ == "__main__"' in done.stderr
