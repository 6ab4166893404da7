"""The ``run_notebook(name, timeout)`` fixture: ``notebooks/<name>`` executed top to bottom (see
:mod:`notebook_runner`)."""
import pytest
from notebook_runner import NOTEBOOKS, execute_notebook


@pytest.fixture
def run_notebook():
    def run(name: str, timeout: int = 300):
        return execute_notebook(NOTEBOOKS / name, timeout=timeout)

    return run
