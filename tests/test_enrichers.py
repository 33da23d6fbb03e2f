"""The enrichers (DESIGN §11): contract and registry, the ffprobe and loudness enrichers on real
media made by tests/media.py, and the worker pool's isolation of raising, hanging and crashing
enrichers."""

from __future__ import annotations

import cmath
import glob
import json
import math
import os
import resource
import time
from importlib.metadata import EntryPoint

import av
import pytest

from retrovue.enrichers import registry as registry_module
from retrovue.enrichers.base import BaseEnricher, EnrichInput, ParamSpec, is_compliant
from retrovue.enrichers.bs1770 import channel_weights, k_weighting
from retrovue.enrichers.errors import (
    CRASHED,
    IMPLAUSIBLE_DURATION,
    NO_AUDIO,
    NOT_MEDIA,
    PLUGIN_ERROR,
    TIMEOUT,
    TRUNCATED,
    UNREADABLE,
    DuplicateEnricherTypeError,
    EnricherParamsError,
    EnricherStartError,
    EnricherUnavailableError,
    EnrichmentError,
)
from retrovue.enrichers.ffprobe import FFProbeEnricher
from retrovue.enrichers.loudness import LoudnessEnricher
from retrovue.enrichers.playable import playable_end
from retrovue.enrichers.pool import run_enrichment
from tests import ffmpeg_ref, media

# -- plugins used by the registry and pool tests (importable by path, as spawned workers need) ---


class EchoEnricher(BaseEnricher):
    """Misbehaves on purpose, according to the file name it is given."""

    type_id = "echo"
    version = "2024.1"
    display_name = "Echo"

    @classmethod
    def param_spec(cls):
        return (ParamSpec("greeting", "string", default="hi"),)

    def enrich(self, asset: EnrichInput) -> dict:
        name = os.path.basename(asset.path)
        if name.startswith("raise"):
            raise ValueError("plugin bug")
        if name.startswith("hang"):
            time.sleep(600)
        if name.startswith("abort"):
            # no core file in the working directory, whatever the machine's limit
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.abort()
        if name.startswith("nan"):
            return {"ratio": float("nan")}
        if name.startswith("refuse"):
            raise EnrichmentError(NOT_MEDIA, "not for me")
        return {"name": name, "greeting": self.params["greeting"], "pid": os.getpid()}


class BrokenStartEnricher(EchoEnricher):
    type_id = "broken-start"

    def __init__(self, params=None):
        raise RuntimeError("cannot find my model")


class HalfEnricher(BaseEnricher):  # not compliant: no version, no enrich
    type_id = "half"
    display_name = "Half"

    @classmethod
    def param_spec(cls):
        return ()


def plugin_entry_points(monkeypatch, *specs):
    eps = [EntryPoint(name, value, registry_module.ENTRY_POINT_GROUP) for name, value in specs]
    monkeypatch.setattr(
        registry_module,
        "entry_points",
        lambda group: eps if group == registry_module.ENTRY_POINT_GROUP else [],
    )


def registry_with(*classes):
    reg = registry_module.load_registry(include_plugins=False)
    for cls in classes:
        reg.register(cls, f"test = tests.test_enrichers:{cls.__name__}")
    return reg


# -- media made once per module -------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    good_mkv = media.write_av(
        d / "av.mkv", chapters=[(0, 500, "Cold open"), (500, 1000, "Act one")], language="eng"
    )
    good_mp4 = media.write_av(d / "av.mp4", language="fra", size=(96, 64), fps=30)
    return {
        "mkv": good_mkv,
        "mp4": good_mp4,
        "audio_only": media.write_av(
            d / "audio.mka", video=False, audio_codec="libopus", layout="mono", language="deu"
        ),
        "video_only": media.write_av(d / "video.mp4", audio=False),
        "zero": media.write_zero_bytes(d / "zero.mkv"),
        "truncated": media.write_truncated(d / "truncated.mp4", good_mp4),
        "header_cut": media.write_truncated(d / "header_cut.mkv", good_mkv, fraction=0.005),
        "random": media.write_random_bytes(d / "random.mkv"),
        "text": media.write_text(d / "text.mp4"),
        "missing": d / "missing.mkv",
        "directory": d,
    }


BAD = {
    "zero": NOT_MEDIA,
    "truncated": NOT_MEDIA,  # an mp4 cut short loses its index (moov) at the end
    "header_cut": UNREADABLE,
    "random": NOT_MEDIA,
    "text": NOT_MEDIA,
    "missing": UNREADABLE,
    "directory": UNREADABLE,
}


def probe(path) -> dict:
    return FFProbeEnricher().enrich(EnrichInput("a1", str(path)))


def loudness(path) -> dict:
    return LoudnessEnricher().enrich(EnrichInput("a1", str(path)))


# -- contract and registry ------------------------------------------------------------------------


def test_builtins_are_compliant_and_listed_as_plain_data():
    reg = registry_module.load_registry(include_plugins=False)
    assert reg.types() == ["ffprobe", "loudness"]
    listed = {t.type_id: t.to_json() for t in reg.list_types()}
    assert listed["ffprobe"]["available"] and listed["loudness"]["available"]
    assert listed["loudness"]["opt_in"] and not listed["ffprobe"]["opt_in"]
    assert listed["ffprobe"]["version"] == 2
    assert [p["name"] for p in listed["ffprobe"]["parameters"]] == [
        "probe_size",
        "analyze_duration",
    ]
    json.dumps(listed)  # what `enricher list-types --json` will print


def test_plugin_is_loaded_from_the_entry_point_group(monkeypatch):
    plugin_entry_points(
        monkeypatch,
        ("echo", "tests.test_enrichers:EchoEnricher"),
        ("half", "tests.test_enrichers:HalfEnricher"),
    )
    reg = registry_module.load_registry()
    assert reg.types() == ["echo", "ffprobe", "half", "loudness"]
    assert reg.create("echo", {"greeting": "hello"}).params == {"greeting": "hello"}
    assert reg.enrichers["echo"].provider == "echo = tests.test_enrichers:EchoEnricher"
    assert not reg.available("half") and not is_compliant(HalfEnricher)
    with pytest.raises(EnricherUnavailableError, match="'half' is not available"):
        reg.require_available("half")


def test_duplicate_type_id_fails_loudly_naming_both(monkeypatch):
    plugin_entry_points(monkeypatch, ("probe2", "retrovue.enrichers.ffprobe:FFProbeEnricher"))
    with pytest.raises(DuplicateEnricherTypeError) as info:
        registry_module.load_registry()
    assert "Multiple enrichers claim enricher type 'ffprobe'" in info.value.message
    assert "built-in" in info.value.hint
    assert "probe2 = retrovue.enrichers.ffprobe:FFProbeEnricher" in info.value.hint


def test_broken_plugin_is_reported_not_fatal(monkeypatch):
    plugin_entry_points(monkeypatch, ("scenes", "no.such.module:SceneEnricher"))
    reg = registry_module.load_registry()
    assert "ModuleNotFoundError" in reg.broken["scenes"]
    assert reg.available("ffprobe")
    listed = {t.type_id: t for t in reg.list_types()}
    assert not listed["scenes"].available and "ModuleNotFoundError" in listed["scenes"].error
    assert "failed to load" in reg.unavailable_reason("scenes")


def test_unknown_stored_type_is_answered_as_unavailable():
    reg = registry_module.load_registry(include_plugins=False)
    assert not reg.available("scene-detect")
    assert (
        reg.unavailable_reason("scene-detect") == "no loaded enricher provides type 'scene-detect'"
    )
    with pytest.raises(EnricherUnavailableError) as info:
        reg.require_available("scene-detect")
    assert "available types: ffprobe, loudness" in info.value.hint


def test_params_are_checked_and_defaulted():
    assert FFProbeEnricher().params == {"probe_size": 1_000_000, "analyze_duration": 2.0}
    with pytest.raises(EnricherParamsError) as info:
        FFProbeEnricher({"probe_size": "big", "colour": True})
    assert "unknown parameter 'colour'" in info.value.message
    assert "parameter 'probe_size' must be a number, not str" in info.value.message


def test_enrichment_error_keeps_its_code_across_processes():
    import pickle

    error = pickle.loads(pickle.dumps(EnrichmentError(NO_AUDIO, "no audio stream")))
    assert (error.code, error.message) == (NO_AUDIO, "no audio stream")


# -- ffprobe ---------------------------------------------------------------------------------------


def test_ffprobe_reads_container_streams_and_chapters(files):
    facts = probe(files["mkv"])
    json.dumps(facts, allow_nan=False)
    assert facts["container"] == "matroska,webm"
    assert abs(facts["duration_ms"] - 1000) <= 50
    assert facts["bit_rate"] > 0 and facts["size_bytes"] == files["mkv"].stat().st_size
    video, audio = facts["streams"]
    assert video["type"] == "video" and video["codec"] == "h264"
    assert (video["width"], video["height"], video["pix_fmt"]) == (64, 48, "yuv420p")
    assert (video["frame_rate"], video["frame_rate_fps"]) == ("25/1", 25.0)
    assert video["profile"] == "High" and video["field_order"] == "progressive"
    assert audio["type"] == "audio" and audio["codec"] == "aac" and audio["profile"] == "LC"
    assert (audio["channels"], audio["channel_layout"], audio["sample_rate"]) == (
        2,
        "stereo",
        48000,
    )
    assert audio["language"] == "eng"
    assert facts["chapters"] == [
        {"start_ms": 0, "end_ms": 500, "title": "Cold open"},
        {"start_ms": 500, "end_ms": 1000, "title": "Act one"},
    ]


def test_ffprobe_on_mp4_audio_only_and_video_only(files):
    mp4 = probe(files["mp4"])
    assert "mp4" in mp4["container"] and abs(mp4["duration_ms"] - 1000) <= 50
    video, audio = mp4["streams"]
    assert (video["width"], video["height"], video["frame_rate"]) == (96, 64, "30/1")
    assert audio["language"] == "fra" and audio["bit_rate"] > 0

    audio_only = probe(files["audio_only"])
    assert [
        (s["type"], s["codec"], s["channels"], s["sample_rate"], s["language"])
        for s in audio_only["streams"]
    ] == [("audio", "opus", 1, 48000, "deu")]
    video_only = probe(files["video_only"])
    assert [s["type"] for s in video_only["streams"]] == ["video"]
    assert video_only["chapters"] == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_ffprobe_bad_inputs_fail_with_their_code(files, name):
    with pytest.raises(EnrichmentError) as info:
        probe(files[name])
    assert info.value.code == BAD[name], info.value.message
    assert info.value.message


# -- loudness --------------------------------------------------------------------------------------

# ITU-R BS.1770-4 Tables 1 and 2: the K-weighting filter at 48 kHz, as published
TABLE_48K = (
    (
        1.53512485958697,
        -2.69169618940638,
        1.19839281085285,
        1.0,
        -1.69065929318241,
        0.73248077421585,
    ),
    (1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621),
)


def k_gain_db(frequency: float) -> float:
    """|H(f)|² of the published 48 kHz K-weighting, in dB: computed here, independently."""
    z = cmath.exp(-2j * math.pi * frequency / 48_000)
    h = 1.0
    for b0, b1, b2, a0, a1, a2 in TABLE_48K:
        h *= (b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)
    return 20 * math.log10(abs(h))


def expected_sine_lufs(dbfs: float, frequency: float, channels: int) -> float:
    # mean square of a sine of peak A is A²/2; BS.1770: L = -0.691 + 10·log10(Σ G_i · z_i)
    return -0.691 + 10 * math.log10(channels * 10 ** (dbfs / 10) / 2) + k_gain_db(frequency)


def test_k_weighting_reproduces_the_published_48k_coefficients():
    for ours, published in zip(k_weighting(48_000), TABLE_48K, strict=True):
        assert ours == pytest.approx(published, abs=1e-9)
    assert channel_weights(["FL", "FR", "FC", "LFE", "BL", "BR"]) == (1, 1, 1, 0, 1.41, 1.41)


@pytest.mark.parametrize(("layout", "channels"), [("mono", 1), ("stereo", 2)])
def test_loudness_of_a_sine_is_what_bs1770_says(tmp_path, layout, channels):
    path = media.write_audio(
        tmp_path / f"sine-{layout}.flac",
        media.sine(1000, -20, 3.0, channels=channels),
        layout=layout,
    )
    facts = loudness(path)
    expected = expected_sine_lufs(-20, 1000, channels)  # -23.0 mono, -20.0 stereo
    assert expected == pytest.approx(-23.0 + 10 * math.log10(channels), abs=0.05)
    assert facts["integrated_lufs"] == pytest.approx(expected, abs=0.1)
    assert facts["true_peak_dbtp"] == pytest.approx(-20, abs=0.1)
    assert (facts["channels"], facts["sample_rate"], facts["codec"]) == (channels, 48000, "flac")
    assert facts["measured_ms"] == 3000 and facts["decode_errors"] == 0


def test_true_peak_sees_the_peak_between_samples(tmp_path):
    # fs/4 with a 45° phase: every sample sits at ±0.707 of the peak, 3 dB under it
    path = media.write_audio(
        tmp_path / "intersample.flac",
        media.faded(media.sine(12_000, -6.02, 1.0, channels=2, phase=math.pi / 4)),
    )
    facts = loudness(path)
    assert facts["sample_peak_dbfs"] == pytest.approx(-9.03, abs=0.1)
    assert facts["true_peak_dbtp"] == pytest.approx(-6.02, abs=0.2)
    assert facts["true_peak_oversampling"] == 4


def ffmpeg_ebur128(path) -> tuple[float, float]:
    """Integrated loudness and true peak by FFmpeg's own ebur128 filter: an independent check."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        graph = av.filter.Graph()
        nodes = [
            graph.add_abuffer(template=stream),
            graph.add("ebur128", "metadata=1:peak=true"),
            graph.add("abuffersink"),
        ]
        graph.link_nodes(*nodes)
        graph.configure()
        last = {}
        for frame in container.decode(stream):
            graph.push(frame)
            while True:
                try:
                    last = graph.pull().metadata
                except (av.error.BlockingIOError, av.error.EOFError):
                    break
    return float(last["lavfi.r128.I"]), 20 * math.log10(float(last["lavfi.r128.true_peak"]))


def test_loudness_agrees_with_ffmpeg_ebur128_on_gated_surround(tmp_path):
    import numpy as np

    # 5.1: loud LFE (weight 0), surrounds (1.41), a quiet stretch under the relative gate and
    # silence under the absolute one, so both gates and the weights matter
    parts = [
        media.noise(-20, 4.0, channels=6, seed=1),
        media.sine(1000, -45, 2.0, channels=6),
        np.zeros((6, 48_000)),
        media.sine(300, -14, 3.0, channels=6),
    ]
    signal = np.concatenate(parts, axis=1)
    signal[3] = 0.9 * np.sin(2 * np.pi * 50 * np.arange(signal.shape[1]) / 48_000)
    signal[4:] *= 0.5
    path = media.write_audio(tmp_path / "surround.flac", signal, layout="5.1")
    facts = loudness(path)
    integrated, true_peak = ffmpeg_ebur128(path)
    assert facts["integrated_lufs"] == pytest.approx(integrated, abs=0.1)
    assert facts["true_peak_dbtp"] == pytest.approx(true_peak, abs=0.2)
    assert facts["channel_layout"] == "5.1" and facts["gated_blocks"] > 0


def test_loudness_at_a_rate_whose_100_ms_hop_is_not_whole_samples(tmp_path):
    # 11025 Hz: a gating hop is 1102.5 samples
    path = media.write_audio(
        tmp_path / "noise-11k.flac",
        media.noise(-20, 5.0, channels=2, sample_rate=11_025),
        sample_rate=11_025,
    )
    integrated, _ = ffmpeg_ebur128(path)
    assert loudness(path)["integrated_lufs"] == pytest.approx(integrated, abs=0.1)


def test_loudness_keeps_integrating_across_layout_and_rate_changes():
    import numpy as np

    from retrovue.enrichers.loudmeter import SpanMeter
    from retrovue.enrichers.loudness import facts_of

    def frames(samples, layout, rate):
        for start in range(0, samples.shape[1], 1024):
            block = np.ascontiguousarray(samples[:, start : start + 1024], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = rate
            yield frame

    meter = SpanMeter(48_000, true_peak=True)
    meter.begin(0)
    # broadcast recordings switch stereo and mono at programme boundaries; rates rarely change
    for frame in frames(media.sine(1000, -20, 3.0, channels=1), "mono", 48_000):
        meter.push(frame)
    for frame in frames(
        media.sine(1000, -20, 3.0, channels=2, sample_rate=44_100), "stereo", 44_100
    ):
        meter.push(frame)
    facts = facts_of([meter.finish()], true_peak=True)
    mono, stereo = expected_sine_lufs(-20, 1000, 1), expected_sine_lufs(-20, 1000, 2)
    # equal durations of each: the mean power of the two, give or take the blocks straddling
    expected = 10 * math.log10((10 ** (mono / 10) + 10 ** (stereo / 10)) / 2)
    assert facts["integrated_lufs"] == pytest.approx(expected, abs=0.15)
    assert (facts["channel_layout"], facts["sample_rate"]) == ("mono", 48_000)
    assert facts["measured_ms"] == 6000
    assert facts["true_peak_dbtp"] == pytest.approx(-20, abs=0.2)


def test_loudness_of_a_file_without_audio_is_a_fact_and_silence_has_none(files, tmp_path):
    """issue 20: no audio stream is recorded (``audio: false``), not failed with NO_AUDIO as it
    was; silence has no loudness either, but has audio."""
    no_audio = loudness(files["video_only"])
    assert no_audio["audio"] is False and no_audio["integrated_lufs"] is None
    import numpy as np

    silent = loudness(media.write_audio(tmp_path / "silence.flac", np.zeros((2, 48_000))))
    assert silent["integrated_lufs"] is None and silent["true_peak_dbtp"] is None
    assert silent["audio"] is True
    assert loudness(files["mkv"])["integrated_lufs"] < -10  # a lossy (AAC) track decodes too


# -- the worker pool -------------------------------------------------------------------------------


def child_pids() -> set[int]:
    """This process's live children (Linux /proc): the pool's workers while a run is on."""
    pids: set[int] = set()
    for children in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        with open(children, encoding="ascii") as f:
            pids.update(int(pid) for pid in f.read().split())
    return pids


def inputs_named(tmp_path, names):
    return [
        EnrichInput(f"id-{name}", str(tmp_path / name), change_token=f"t-{name}") for name in names
    ]


def test_pool_isolates_raising_hanging_and_crashing_enrichers(tmp_path):
    # one worker, so the order is known: the hang and the abort each cost it its process, and
    # every input after them still gets done by the replacements
    names = ["raise-1", "hang-1", "abort-1", "nan-1", "refuse-1"] + [f"ok-{i}" for i in range(15)]
    started = time.monotonic()
    outcomes = list(
        run_enrichment(
            "echo",
            {"greeting": "hello"},
            inputs_named(tmp_path, names),
            workers=1,
            timeout_s=1.5,  # far above an ok item, even on a loaded machine
            registry=registry_with(EchoEnricher),
        )
    )
    assert time.monotonic() - started < 15
    assert [o.asset_id for o in outcomes] == [f"id-{n}" for n in names]
    by_id = {o.asset_id: o for o in outcomes}
    assert (by_id["id-raise-1"].error_code, by_id["id-raise-1"].error_message) == (
        PLUGIN_ERROR,
        "ValueError: plugin bug",
    )
    assert by_id["id-hang-1"].error_code == TIMEOUT and by_id["id-hang-1"].elapsed_s >= 1.5
    assert by_id["id-abort-1"].error_code == CRASHED
    assert "killed by SIGABRT" in by_id["id-abort-1"].error_message
    assert by_id["id-nan-1"].error_code == PLUGIN_ERROR
    assert "not JSON-serialisable" in by_id["id-nan-1"].error_message
    refused = by_id["id-refuse-1"]
    assert (refused.error_code, refused.error_message) == (NOT_MEDIA, "not for me")
    good = [by_id[f"id-ok-{i}"] for i in range(15)]
    assert all(o.ok and o.data["greeting"] == "hello" for o in good)
    assert len({o.data["pid"] for o in good}) == 1  # the third process, started after the abort
    assert {(o.enricher, o.version) for o in outcomes} == {("echo", "2024.1")}
    assert by_id["id-ok-3"].change_token == "t-ok-3"


def test_pool_runs_ffprobe_bad_files_fail_alone(files):
    names = ["mkv", "mp4", "audio_only", "video_only", *sorted(BAD)]
    inputs = [EnrichInput(name, str(files[name]), change_token="x") for name in names]
    outcomes = {o.asset_id: o for o in run_enrichment("ffprobe", {}, inputs, workers=2)}
    assert sorted(outcomes) == sorted(names)
    for name in ["mkv", "mp4", "audio_only", "video_only"]:
        assert outcomes[name].ok and outcomes[name].data == probe(files[name])
    assert {n: outcomes[n].error_code for n in BAD} == BAD
    # workers turn FFmpeg's logging on, so a failure names the demuxer's reason
    assert "moov atom not found" in outcomes["truncated"].error_message
    assert "EBML header parsing failed" in outcomes["random"].error_message


def test_pool_checks_type_and_params_before_starting_anything(tmp_path):
    with pytest.raises(EnricherUnavailableError):
        run_enrichment("scene-detect", {}, [])
    with pytest.raises(EnricherParamsError):
        run_enrichment("ffprobe", {"probesize": 1}, [])
    before = child_pids()
    assert list(run_enrichment("ffprobe", {}, [])) == []
    assert child_pids() == before  # nothing to do: no process started


def test_pool_fails_the_run_when_the_enricher_cannot_start(tmp_path):
    before = child_pids()
    run = run_enrichment(
        "broken-start",
        {},
        inputs_named(tmp_path, ["ok-1", "ok-2"]),
        workers=1,
        registry=registry_with(BrokenStartEnricher),
    )
    with pytest.raises(EnricherStartError, match="RuntimeError: cannot find my model"):
        list(run)
    assert child_pids() == before


def test_closing_the_run_early_stops_its_workers(tmp_path):
    before = child_pids()
    run = run_enrichment(
        "echo",
        {},
        inputs_named(tmp_path, [f"ok-{i}" for i in range(50)] + ["hang-1"]),
        workers=2,
        registry=registry_with(EchoEnricher),
    )
    assert next(run).ok
    assert len(child_pids() - before) == 2
    run.close()
    assert child_pids() == before


def test_rounds_keep_coming_while_a_slow_input_is_in_flight(tmp_path):
    """issue 17, item 6: a caller that commits on a timer needs the pool to hand over something
    while a slow file is worked on: after the quick input's outcome, empty rounds keep coming
    (at least twice a second) instead of the next outcome, ten minutes away."""
    from retrovue.enrichers.pool import run_enrichment_rounds

    rounds = run_enrichment_rounds(
        "echo",
        {},
        inputs_named(tmp_path, ["ok-1", "ok-2", "hang-1"]),
        workers=1,
        timeout_s=600,
        registry=registry_with(EchoEnricher),
    )
    try:
        finished: list[str] = []
        while len(finished) < 2:
            finished += [o.asset_id for o in next(rounds)]
        assert sorted(finished) == ["id-ok-1", "id-ok-2"]
        assert [next(rounds) for _ in range(3)] == [[], [], []]  # the hang is still in flight
    finally:
        rounds.close()


def test_decoding_is_bounded_by_the_bytes_held_and_a_decode_rate_floor():
    """issue 17, item 6: the work one file may cause is bounded by what it can hold — decoded
    audio beyond its bytes at the bit rate floor is IMPLAUSIBLE_DURATION; decoding slower than
    MIN_DECODE_SPEED over the longer of the declared and decoded durations is TIMEOUT, so a real
    programme whose header says too little is not cut short."""
    from retrovue.enrichers.bounds import DecodeBound

    roomy = 10**9
    DecodeBound(60.0, roomy, started=time.monotonic() - 300).check(3600.0)  # 390 s allowed
    with pytest.raises(EnrichmentError) as slow:
        DecodeBound(60.0, roomy, started=time.monotonic() - 100).check(30.0)  # 36 s allowed
    assert slow.value.code == TIMEOUT and "slower than 10x real time" in slow.value.message
    with pytest.raises(EnrichmentError) as holes:
        DecodeBound(None, 4096).check(3600.0)  # an hour needs 14,400 bytes at 4 B/s
    assert holes.value.code == IMPLAUSIBLE_DURATION


def test_a_declared_duration_must_be_in_range_and_held_by_the_file(tmp_path):
    """issue 17, item 9b: a declared duration out of range (negative, over 30 days) or more
    than the file's bytes can carry is IMPLAUSIBLE_DURATION; what a real file declares passes,
    and so does a file that declares none.  Holes in a sparse file are not bytes it holds."""
    from retrovue.enrichers.bounds import check_declared, held_bytes

    for declared, held in ((-1.0, 10**9), (31 * 86400.0, 10**12), (3600.0, 14_399)):
        with pytest.raises(EnrichmentError) as refused:
            check_declared(declared, held)
        assert refused.value.code == IMPLAUSIBLE_DURATION
    check_declared(3600.0, 14_400)
    check_declared(None, 1)
    sparse = media.write_sparse_wav(tmp_path / "x.mkv", 2**30)
    assert sparse.stat().st_size == 2**30 and held_bytes(sparse.stat()) <= 64 * 1024
    good = media.write_av(tmp_path / "good.mkv")
    assert held_bytes(good.stat()) == good.stat().st_size


# -- issue 20: facts a broadcaster can trust --------------------------------------------------------


@pytest.mark.parametrize(
    "name, video, audio",
    [
        ("mp3.mp4", None, "libmp3lame"),  # decoded by mp3float
        ("mp2.mkv", "mpeg2video", "mp2"),  # decoded by mp2float
        ("ac3.mkv", "mpeg4", "ac3"),  # decoded by ac3 (ac3_fixed also exists)
        ("h264.mp4", "libx264", "aac"),
    ],
)
def test_ffprobe_records_codec_names_as_ffmpeg_gives_them(tmp_path, name, video, audio):
    """issue 20: each stream's codec is the codec's name as ``ffmpeg -i`` (ffprobe's
    ``codec_name``) gives it, not the name of the decoder PyAV picked for it."""
    path = ffmpeg_ref.clip(tmp_path / name, seconds=1, video=video, audio=audio)
    facts = probe(path)
    assert [(s["type"], s["codec"]) for s in facts["streams"]] == ffmpeg_ref.codec_names(path)


def _read_bytes() -> int:
    """Bytes this process has read through read(2) so far, as the kernel counts them."""
    with open("/proc/self/io") as io_stats:
        return next(int(line.split()[1]) for line in io_stats if line.startswith("rchar:"))


@pytest.mark.parametrize("container", ["mkv", "mp4"])
def test_a_file_cut_at_a_third_is_truncated_at_its_playable_end(tmp_path, container):
    """issue 20: the first third of a 4 s file was described by its header (4,021 ms).  Now it
    fails as TRUNCATED, and its playable end is where FFmpeg's own decode of it stops; the
    intact file passes with its playable end stored.  (The MP4 has its index first, as a
    download does: with the index at the end a cut file does not open at all.)"""
    extra = ("-movflags", "+faststart") if container == "mp4" else ()
    intact = ffmpeg_ref.clip(tmp_path / f"intact.{container}", extra=extra)
    cut = media.write_truncated(tmp_path / f"cut.{container}", intact, 1 / 3)

    facts = probe(intact)
    assert abs(facts["playable_end_ms"] - 1000 * ffmpeg_ref.decoded_end_s(intact)) <= 100
    assert abs(facts["playable_end_ms"] - facts["duration_ms"]) <= 100
    with pytest.raises(EnrichmentError) as cut_short:
        probe(cut)
    assert cut_short.value.code == TRUNCATED
    with av.open(str(cut)) as opened:
        end = playable_end(opened, str(cut), cut.stat().st_size)
    # H.264 reorders frames: an index gives decode times, a few frames before the last shown
    assert abs(end.end_s - ffmpeg_ref.decoded_end_s(cut)) <= 0.2


@pytest.mark.parametrize("container", ["mkv", "mp4"])
def test_the_playable_end_reads_a_megabyte_or_so_of_a_large_file(tmp_path, container):
    """issue 20: the playable end must cost a few MB at most, not a read of the file.  A 12 s
    clip of noise (27 MB) cut at a third (9 MB): the whole probe, header included, reads under
    2.5 MB of the Matroska file (its header, then its last megabyte) and under 0.5 MB of the MP4
    (its header, whose index places every packet), by the kernel's count."""
    extra = ("-movflags", "+faststart") if container == "mp4" else ()
    intact = ffmpeg_ref.clip(
        tmp_path / f"noise.{container}", seconds=12, video="mpeg4", noise=True, extra=extra
    )
    cut = media.write_truncated(tmp_path / f"cut.{container}", intact, 1 / 3)
    assert cut.stat().st_size > 8_000_000
    before = _read_bytes()
    with pytest.raises(EnrichmentError) as cut_short:
        probe(cut)
    read = _read_bytes() - before
    assert cut_short.value.code == TRUNCATED
    assert read < (2_500_000 if container == "mkv" else 500_000), read


def test_the_pool_starts_no_more_workers_than_inputs(files, monkeypatch):
    """One file to probe starts one process, not one per core (each costs ~0.1-0.2 s)."""
    from retrovue.enrichers import pool

    spawned = []
    spawn = pool._Run._spawn

    def counting(self):
        spawned.append(1)
        return spawn(self)

    monkeypatch.setattr(pool._Run, "_spawn", counting)
    inputs = [EnrichInput("only", str(files["mkv"]))]
    outcomes = list(run_enrichment("ffprobe", {}, inputs, workers=4))
    assert [o.ok for o in outcomes] == [True]
    assert len(spawned) == 1
