"""Install TuneForge: the `tuneforge` subnet package and the standalone `scoring` package.

The minimal install (miners on the procedural backend, validators without neural models)
does not pull torch; the `models` extra adds torch, transformers, tokenizers, safetensors and
diffusers (the ACE-Step 1.5 backend), the
`postgres` extra the PostgreSQL driver (psycopg 3) for the API's store, the `redis` extra the client
API replicas share rate limits, nonces and job wake-ups through, the `plots` extra Pillow for PNG
pictures (SVG without it).
Install torch pinned (``pip install torch==2.13.0``) before or with the `models` extra.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = "0.1.0"

CORE = [
    "bittensor>=10.4,<11",
    "numpy>=1.26",
    "scipy>=1.11",
    "soundfile>=0.12",
    "soxr>=0.3",
    "librosa>=0.10",
    "pyloudnorm>=0.1.1",
    "fastapi>=0.110",
    "uvicorn>=0.29",
    # uvicorn picks these up by itself: C HTTP parser and event loop, ~15-50 % more API throughput
    "httptools>=0.6",
    "uvloop>=0.19; sys_platform != 'win32'",
    "aiohttp>=3.9",
    # AES-256-SIV for webhook secrets at rest (tuneforge/store/secret_box.py); bittensor depends on it too
    "pycryptodome>=3.15",
    "sqlalchemy>=2.0",
    "alembic>=1.13",
    "pyyaml>=6",
    # runs the note transcriber that ships inside basic-pitch's wheel (scoring/wheel_models)
    "onnxruntime>=1.17",
]
#: Trained scoring models that ship inside these wheels (weights included). Their own dependency
#: pins are obsolete (musicnn pins numpy<1.17, basic-pitch pulls TensorFlow), and our code reads
#: only their weight files, so they are installed WITHOUT dependencies by scripts/_venv.sh:
#:   pip install --no-deps musicnn==0.1.0 basic-pitch==0.4.0
WHEEL_MODELS = ["musicnn==0.1.0", "basic-pitch==0.4.0"]
MODELS = [
    "torch>=2.1",
    "transformers>=4.45",
    "tokenizers>=0.19",
    "safetensors>=0.4",
    "sentencepiece>=0.2",
    # AceStepPipeline (ACE-Step 1.5) first shipped in 0.42; the backend subclasses its encode_prompt,
    # so the minor version is pinned until a newer one has been checked against it.
    "diffusers>=0.42.1,<0.43",
]
TEST = [
    "pytest>=8",
    "pytest-asyncio>=0.23",
    "httpx>=0.27",
    "ruff>=0.5",
    # tests/test_operator_kit.py validates docker-compose.yml against tests/data/compose-schema.json
    "jsonschema>=4",
]
FINGERPRINT = ["pyacoustid>=1.3"]
# The API's store on PostgreSQL (--api.database_url postgresql+psycopg://...); binary wheels, no build.
POSTGRES = ["psycopg[binary]>=3.1"]
# API replicas sharing rate-limit windows, nonces and job wake-ups (--api.redis_url redis://...).
REDIS = ["redis>=5"]
# PNG pictures (tuneforge score --plot FILE.png, localnet's leaderboard.png); without it they are SVG.
PLOTS = ["pillow>=10.1"]

setup(
    name="tuneforge",
    version=VERSION,
    description="TuneForge: a Bittensor subnet for text-to-music generation",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tuneforge", "tuneforge.*", "scoring", "scoring.*"]),
    include_package_data=True,
    package_data={"tuneforge": ["store/migrations/*.ini", "store/migrations/*.py", "store/migrations/versions/*.py",
                                "api/docs_assets/*", "api/static/*"],
                  "scoring": ["data/*"]},
    install_requires=CORE,
    extras_require={
        "models": MODELS,
        "fingerprint": FINGERPRINT,
        "postgres": POSTGRES,
        "redis": REDIS,
        "plots": PLOTS,
        "test": TEST,
        "all": MODELS + FINGERPRINT + POSTGRES + REDIS + PLOTS + TEST,
    },
    entry_points={"console_scripts": ["tuneforge=tuneforge.cli:main"]},
)
