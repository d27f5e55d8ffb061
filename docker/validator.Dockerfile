# TuneForge validator (and API replica: same image, `api` as the command). CPU scoring with the
# weight-free signals and the in-wheel listeners; neural scoring models are mounted, not baked in.
#
#   docker build -f docker/validator.Dockerfile -t tuneforge-validator .
#   docker compose up -d validator api        (docker-compose.yml: PostgreSQL and Redis with it)
#
# Settings come from TUNEFORGE_* variables (env/validator.env.example, env/api.env.example;
# tuneforge/launch.py turns them into the flags). The process runs as uid $UID (default 1000): the
# mounted wallet files must be readable by it (build with --build-arg UID=$(id -u)).
FROM python:3.11-slim

ARG UID=1000
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    WANDB_MODE=offline \
    TUNEFORGE_JIT_CACHE_DIR=/opt/tuneforge/jit

WORKDIR /opt/tuneforge
COPY setup.py pyproject.toml README.md ./
COPY scoring ./scoring
COPY tuneforge ./tuneforge
COPY neurons ./neurons
# PostgreSQL driver, Redis client and PNG pictures; the listeners every validator scores with;
# the audio-analysis JIT cache built once here. State (leaderboard, challenge secret, clips) lives
# in /data/validator, a volume.
RUN pip install -e ".[postgres,redis,plots]" \
 && pip install --no-deps musicnn==0.1.0 basic-pitch==0.4.0 \
 && python -m scoring.jit warm \
 && useradd --create-home --uid "${UID}" tuneforge \
 && mkdir -p /data/validator \
 && chown -R tuneforge /opt/tuneforge/jit /data/validator

USER tuneforge
VOLUME ["/data/validator"]
EXPOSE 8000
ENTRYPOINT ["python", "-m", "tuneforge.launch"]
CMD ["validator"]
