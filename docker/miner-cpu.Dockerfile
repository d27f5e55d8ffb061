# TuneForge miner on CPU: the procedural backend (real music, no model download, no GPU).
#
#   docker build -f docker/miner-cpu.Dockerfile -t tuneforge-miner .
#   docker run --env-file env/miner.env -e TUNEFORGE_WALLET__PATH=/wallets \
#       -v ~/.bittensor/wallets:/wallets:ro -p 8091:8091 tuneforge-miner
#
# Settings come from TUNEFORGE_* variables (env/miner.env.example; tuneforge/launch.py turns them
# into neurons/miner.py's flags). The process runs as uid $UID (default 1000): the mounted wallet
# files must be readable by it (build with --build-arg UID=$(id -u) to match your user).
FROM python:3.11-slim

ARG UID=1000
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TUNEFORGE_JIT_CACHE_DIR=/opt/tuneforge/jit

WORKDIR /opt/tuneforge
COPY setup.py pyproject.toml README.md ./
COPY scoring ./scoring
COPY tuneforge ./tuneforge
COPY neurons ./neurons
# The minimal install (no torch); the in-wheel listeners without their obsolete pins (setup.py);
# the audio-analysis JIT cache built once here, not at the first request.
RUN pip install -e . \
 && pip install --no-deps musicnn==0.1.0 basic-pitch==0.4.0 \
 && python -m scoring.jit warm \
 && useradd --create-home --uid "${UID}" tuneforge \
 && chown -R tuneforge /opt/tuneforge/jit

USER tuneforge
EXPOSE 8091
ENTRYPOINT ["python", "-m", "tuneforge.launch"]
CMD ["miner"]
