"""``tuneforge generate``: the bytes it writes are the bytes a real miner on an axon sends.

A ``Miner`` with the procedural backend serves on 127.0.0.1 (fake chain from
``test_miner_doubles``, external IP pinned, so nothing leaves the machine); a real
``bt.Dendrite`` sends it a request, and ``tuneforge generate`` with the same flags must write
exactly the base64-decoded ``audio_b64`` of the reply. Two runs give identical bytes; a tiny
random MusicGen checkpoint checks the ``--backend musicgen`` route.
"""

import argparse
import asyncio
import base64

import bittensor as bt
import pytest
from bittensor_wallet import Keypair
from test_miner_doubles import FakeSubtensor

from scoring.intake import decode_audio_bytes
from tuneforge import cli as tuneforge_cli
from tuneforge.generation import cli
from tuneforge.generation.procedural import ProceduralBackend
from tuneforge.miner.config import MinerConfig
from tuneforge.miner.neuron import Miner
from tuneforge.netutils import free_port, pinned_external_ip
from tuneforge.protocol import MusicGenerationSynapse

VALIDATOR = Keypair.create_from_uri("//Bob")

REQUEST = {
    "prompt": "melancholic folk ballad with acoustic guitar",
    "duration_seconds": 2.5,
    "seed": 4242,
    "genre": "folk",
    "mood": "melancholic",
    "tempo_bpm": 84,
    "key_signature": "E minor",
    "time_signature": "3/4",
    "instruments": ["acoustic guitar", "violin"],
}
FLAGS = [
    "--prompt", REQUEST["prompt"], "--duration", "2.5", "--seed", "4242", "--genre", "folk",
    "--mood", "melancholic", "--tempo", "84", "--key", "E minor", "--time-signature", "3/4",
    "--instruments", "acoustic guitar, violin",
]


def _generate(argv, capsys) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(["generate", *argv])
    rc = args.func(args)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture(scope="module")
def served_miner(tmp_path_factory):
    wallet = bt.Wallet(name="miner", hotkey="default", path=str(tmp_path_factory.mktemp("wallets")))
    wallet.create_coldkey_from_uri("//Alice", use_password=False, overwrite=True, suppress=True)
    wallet.create_hotkey_from_uri("//Alice//miner", use_password=False, overwrite=True, suppress=True)
    chain = FakeSubtensor(netuid=234)
    chain.register(wallet.hotkey.ss58_address)
    chain.register(VALIDATOR.ss58_address, validator_permit=True, stake=5000.0)
    config = MinerConfig(axon_ip="127.0.0.1", axon_external_ip="127.0.0.1", queue_size=1, warmup_seconds=1.0)
    with pinned_external_ip("127.0.0.1"):
        miner = Miner(config, wallet=wallet, subtensor=chain, backend=ProceduralBackend(), port=free_port())
        miner.start()
        try:
            yield miner
        finally:
            miner.stop()


async def _ask(miner, synapse):
    dendrite = bt.Dendrite(wallet=VALIDATOR)
    try:
        replies = await dendrite(axons=[miner.axon.info()], synapse=synapse, timeout=60.0, deserialize=False)
    finally:
        await dendrite.aclose_session()
    return replies[0]


def test_generate_writes_what_a_miner_on_an_axon_sends(served_miner, tmp_path, capsys):
    reply = asyncio.run(_ask(served_miner, MusicGenerationSynapse(**REQUEST, challenge_id="c-generate")))
    assert reply.dendrite.status_code == 200, reply.dendrite.status_message
    sent = base64.b64decode(reply.audio_b64)

    out = tmp_path / "clip.wav"
    rc, stdout, err = _generate([*FLAGS, "--out", str(out)], capsys)
    assert rc == 0, err
    written = out.read_bytes()
    assert written == sent
    clip = decode_audio_bytes(written)
    assert clip.duration_seconds == pytest.approx(2.5) and clip.sample_rate == 44_100
    assert str(out) in stdout and "tuneforge-procedural-v1" in stdout


def test_two_runs_same_bytes_other_seed_other_bytes(tmp_path, capsys):
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    assert _generate([*FLAGS, "--out", str(a)], capsys)[0] == 0
    assert _generate([*FLAGS, "--out", str(b)], capsys)[0] == 0
    other = [*FLAGS]
    other[other.index("--seed") + 1] = "4243"
    assert _generate([*other, "--out", str(c)], capsys)[0] == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_synapse_carries_every_flag():
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", *FLAGS, "--lyrics", "la la", "--vocals", "--out", "x.wav"])
    synapse = cli.build_synapse(args)
    for name, value in REQUEST.items():
        assert getattr(synapse, name) == value, name
    assert synapse.lyrics == "la la" and synapse.vocals_requested is True
    args = parser.parse_args(["generate", "--prompt", "p", "--duration", "5", "--seed", "1", "--out", "x.wav"])
    synapse = cli.build_synapse(args)
    assert synapse.tempo_bpm == MusicGenerationSynapse().tempo_bpm  # unset: the wire default, as a validator sends
    assert synapse.instruments is None and synapse.vocals_requested is False


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--duration", "500"], "duration_seconds"),
        (["--tempo", "5"], "tempo_bpm"),
        (["--sample-rate", "4000"], "sample_rate must be 8000-96000 Hz"),
        (["--backend", "musicgen", "--model", "/nonexistent/model"], "backend musicgen unavailable"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(tmp_path, capsys, flags, message):
    base = {"--prompt": "p", "--duration": "2", "--seed": "1", "--out": str(tmp_path / "x.wav")}
    for flag, value in zip(flags[::2], flags[1::2]):
        base[flag] = value
    rc, out, err = _generate([item for pair in base.items() for item in pair], capsys)
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def test_missing_output_folder(tmp_path, capsys):
    rc, _, err = _generate(["--prompt", "p", "--duration", "2", "--seed", "1", "--out", str(tmp_path / "no" / "x.wav")], capsys)
    assert rc == 2 and "does not exist" in err


def test_registered_as_a_tuneforge_command():
    assert "tuneforge.generation.cli" in tuneforge_cli.SUBCOMMAND_MODULES
    args = tuneforge_cli.build_parser().parse_args(["generate", "--prompt", "p", "--duration", "2", "--seed", "1", "--out", "x"])
    assert args.func is cli.run


def test_musicgen_backend_from_a_model_dir(tmp_path, capsys):
    from tiny_musicgen import build_tiny_musicgen

    model = build_tiny_musicgen(tmp_path / "models", variant="mono")
    flags = ["--prompt", "happy jazz with piano", "--duration", "1.5", "--seed", "9", "--backend", "musicgen",
             "--model", str(model), "--device", "cpu"]
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    rc, out, err = _generate([*flags, "--out", str(a)], capsys)
    assert rc == 0, err
    assert _generate([*flags, "--out", str(b)], capsys)[0] == 0
    assert a.read_bytes() == b.read_bytes()
    clip = decode_audio_bytes(a.read_bytes())
    assert clip.sample_rate == 32_000 and clip.frames == 48_000
    assert "tiny-musicgen-mono" in out
