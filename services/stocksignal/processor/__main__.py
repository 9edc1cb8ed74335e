"""``python -m stocksignal.processor``: run one worker with settings from the environment."""

from stocksignal.bootstrap import settings_from_env
from stocksignal.processor.runner import run_processor

if __name__ == "__main__":
    run_processor(settings_from_env())
