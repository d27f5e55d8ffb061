"""JSON shapes the API returns, built from the store's rows (one place, so every route agrees).

Times are Unix seconds (floats). ``audio_url`` is a path relative to the API's base URL
(``/api/v1/music/audio/trk_....wav``), so it stays right behind any proxy.
"""

from typing import Any

__all__ = ["audio_path", "job_status", "score_entry", "music_track"]


def audio_path(track_id: str, audio_format: str) -> str:
    return f"/api/v1/music/audio/{track_id}.{audio_format}"


def music_track(track: dict[str, Any], *, audio_format: str) -> dict[str, Any]:
    """A track inside a generation's status (``audio_format`` the one the user asked for)."""
    return {
        "track_id": track["id"],
        "variation": track.get("variation"),
        "audio_url": audio_path(track["id"], audio_format),
        "duration_seconds": round(float(track["duration_seconds"]), 3),
        "sample_rate": int(track["sample_rate"]),
        "format": audio_format,
        "miner_hotkey": track["hotkey"],
        "model_id": track.get("model_id"),
        "score_breakdown": track.get("score_breakdown") or {},
    }


def job_status(job: dict[str, Any]) -> dict[str, Any]:
    """The status object of a generation (also the webhook body)."""
    fmt = (job.get("params") or {}).get("format") or "wav"
    return {
        "request_id": job["id"],
        "status": job["status"],
        "created_at": job["created_at"],
        "finished_at": job.get("finished_at"),
        "credits_charged": int(job["cost"]) - int(job.get("refunded") or 0),
        "tracks": [music_track(t, audio_format=fmt) for t in job.get("tracks", [])],
        "error": job.get("error"),
    }


def score_entry(track: dict[str, Any]) -> dict[str, Any]:
    """A scored clip as the scores API lists it."""
    return {
        "track_id": track["id"],
        "challenge_id": track["challenge_id"],
        "round_id": track.get("round_id"),
        "is_organic": bool(track["is_organic"]),
        "miner_uid": int(track["uid"]),
        "miner_hotkey": track["hotkey"],
        "model_id": track.get("model_id"),
        "final_score": float(track["final_score"]),
        "score_breakdown": track.get("score_breakdown") or {},
        "prompt": track["prompt"],
        "genre": track["genre"],
        "mood": track["mood"],
        "duration_seconds": round(float(track["duration_seconds"]), 3),
        "requested_duration_seconds": float(track["requested_seconds"]),
        "sample_rate": int(track["sample_rate"]),
        "format": track["audio_format"],
        "created_at": track["created_at"],
        "audio_url": audio_path(track["id"], track["audio_format"]),
    }
