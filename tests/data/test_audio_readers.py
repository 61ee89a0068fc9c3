"""Reading audio files: WAV, FLAC, OGG (Vorbis) and headerless .raw / .pcm in every sample format,
resampling, trimming, and a clear error for each way a file can be wrong."""
import numpy as np
import pytest

from rnnkit.data import audio as A

SR = 16000


def speechlike(seconds=0.6, sr=SR, seed=0):
    """A 220 Hz tone with noise, between 0.2 s of silence on each side."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    voiced = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.size)
    gap = np.zeros(int(0.2 * sr))
    return np.concatenate([gap, voiced, gap]).astype(np.float32)


def test_flac_is_lossless_and_ogg_close(tmp_path):
    import soundfile as sf
    y = speechlike()
    pcm = np.round(y * 32767).astype(np.int16)                  # the same samples in both files
    sf.write(tmp_path / "a.wav", pcm, SR, subtype="PCM_16")
    sf.write(tmp_path / "a.flac", pcm, SR, subtype="PCM_16")
    sf.write(tmp_path / "a.ogg", y, SR, format="OGG", subtype="VORBIS")
    wav = A.load_audio(tmp_path / "a.wav")
    np.testing.assert_array_equal(A.load_audio(tmp_path / "a.flac"), wav)
    ogg = A.load_audio(tmp_path / "a.ogg")
    n = min(len(ogg), len(wav))
    assert abs(len(ogg) - len(wav)) < 0.01 * SR
    assert np.sqrt(np.mean((ogg[:n] - wav[:n]) ** 2)) < 0.05 * np.sqrt(np.mean(wav ** 2))


@pytest.mark.parametrize("fmt", sorted(A.RAW_FORMATS))
@pytest.mark.parametrize("channels", [1, 2])
def test_raw_formats_read_like_the_wav_they_came_from(tmp_path, fmt, channels):
    y = speechlike()
    dtype, scale = A.RAW_FORMATS[fmt]
    ints = np.dtype(dtype).kind in "iu"
    q = np.round(y * (scale - 1)) if ints else y                # the values the file can hold
    pcm = (q + (128 if fmt == "u8" else 0)).astype(dtype)
    pcm = np.repeat(pcm[:, None], channels, axis=1)             # identical channels: the mean is the same
    path = tmp_path / "a.raw"
    path.write_bytes(pcm.tobytes())
    got = A.load_audio(path, sample_rate=None, raw_rate=SR, raw_format=fmt, channels=channels)
    np.testing.assert_allclose(got, (q / scale).astype(np.float32), rtol=0, atol=1e-6)
    half = A.load_audio(path, sample_rate=8000, raw_rate=SR, raw_format=fmt, channels=channels)
    assert abs(len(half) - len(y) // 2) <= 1                   # resampled


def test_raw_mistakes_are_named(tmp_path):
    path = tmp_path / "a.pcm"
    path.write_bytes(np.zeros(101, np.uint8).tobytes())        # odd size: not whole s16le samples
    with pytest.raises(ValueError, match="sample rate"):
        A.load_audio(path)
    with pytest.raises(ValueError, match="101 bytes.*s16le"):
        A.load_audio(path, raw_rate=SR)
    with pytest.raises(ValueError, match="raw_format"):
        A.load_audio(path, raw_rate=SR, raw_format="mp3")
    assert A.load_audio(path, sample_rate=None, raw_rate=SR, raw_format="u8").shape == (101,)
    (tmp_path / "empty.raw").write_bytes(b"")
    with pytest.raises(ValueError, match="no audio samples"):
        A.load_audio(tmp_path / "empty.raw", raw_rate=SR)


def test_files_that_are_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    with pytest.raises(ValueError, match="not a readable audio file"):
        A.load_audio(tmp_path / "notes.wav")
    with pytest.raises(FileNotFoundError):
        A.load_audio(tmp_path / "missing.flac")


def test_trim_cuts_the_silence_around_speech(tmp_path):
    import soundfile as sf
    y = speechlike()
    sf.write(tmp_path / "a.wav", y, SR, subtype="FLOAT")
    full = A.load_audio(tmp_path / "a.wav")
    trimmed = A.load_audio(tmp_path / "a.wav", trim_db=30)
    assert len(full) == len(y)
    assert abs(len(trimmed) - int(0.6 * SR)) < 0.05 * SR      # the 0.2 s gaps are gone, the tone stays
