"""File I/O: exact round trips, layout detection on real channel names, OIDN datasets, broken files."""

import numpy as np
import pytest

from neurecon.buffers import BufferError, Buffers
from neurecon.io import (
    ExrError,
    PfmError,
    detect_layout,
    find_frames,
    read_buffers,
    read_exr_channels,
    read_image,
    read_oidn_frame,
    read_pfm,
    srgb_decode,
    srgb_encode,
    tonemap_to_ldr,
    write_buffers,
    write_exr_channels,
    write_image,
    write_oidn_frame,
    write_pfm,
)

H, W = 16, 24  # non-square catches transposes


def rand(c, seed=0, lo=0.0, hi=4.0):
    return np.random.default_rng(seed).uniform(lo, hi, (H, W, c)).astype(np.float32)


def full_buffers(seed=0):
    planes = {
        "color": rand(3, seed),
        "albedo": rand(3, seed + 1, 0, 1),
        "normal": rand(3, seed + 2, -1, 1),
        "depth": rand(1, seed + 3),
        "position": rand(3, seed + 4, -5, 5),
        "motion": rand(2, seed + 5, -2, 2),
        "color_var": rand(3, seed + 6, 0, 0.1),
        "albedo_var": rand(3, seed + 7, 0, 0.01),
        "normal_var": rand(3, seed + 8, 0, 0.01),
        "depth_var": rand(1, seed + 9, 0, 0.1),
    }
    planes["color"][0, 0] = [1e6, 1e-8, 0.0]  # HDR extremes survive float32 files
    return Buffers(planes)


def assert_same(a: Buffers, b: Buffers):
    assert sorted(a.names()) == sorted(b.names())
    for k in a.names():
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# --- EXR ------------------------------------------------------------------------------------
def test_exr_channels_roundtrip_exact_and_half(tmp_path):
    ch = {"R": rand(1)[..., 0], "albedo.G": rand(1, 1)[..., 0], "ViewLayer.Denoising Normal.X": rand(1, 2)[..., 0]}
    write_exr_channels(tmp_path / "a.exr", ch)
    back = read_exr_channels(tmp_path / "a.exr")
    assert set(back) == set(ch)
    for k in ch:
        assert back[k].dtype == np.float32 and back[k].shape == (H, W)
        np.testing.assert_array_equal(back[k], ch[k])
    write_exr_channels(tmp_path / "h.exr", ch, half=True)
    np.testing.assert_allclose(read_exr_channels(tmp_path / "h.exr")["R"], ch["R"], rtol=1e-3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_exr_missing_corrupt_truncated(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_exr_channels(tmp_path / "nope.exr")
    (tmp_path / "junk.exr").write_bytes(b"this is not an EXR file" * 10)
    with pytest.raises(ExrError, match="junk.exr.*not an EXR"):
        read_exr_channels(tmp_path / "junk.exr")
    write_image(tmp_path / "good.exr", rand(3))
    data = (tmp_path / "good.exr").read_bytes()
    for cut, where in ((len(data) * 2 // 3, "pixel data"), (40, "header")):
        (tmp_path / "cut.exr").write_bytes(data[:cut])
        with pytest.raises(ExrError, match=f"cut.exr.*{where} is truncated or corrupt") as e:
            read_buffers(tmp_path / "cut.exr")
        assert isinstance(e.value, BufferError)


# --- PFM ------------------------------------------------------------------------------------
def test_pfm_roundtrip_and_orientation(tmp_path):
    img = rand(3)
    img[0] = 7.0  # top row
    write_pfm(tmp_path / "c.pfm", img)
    raw = (tmp_path / "c.pfm").read_bytes()
    assert raw.startswith(b"PF\n%d %d\n-1.0\n" % (W, H))
    # the file stores rows bottom-to-top, so the top row is the last one on disk
    last_row = np.frombuffer(raw[-W * 3 * 4 :], dtype="<f4")
    assert np.all(last_row == 7.0)
    back = read_pfm(tmp_path / "c.pfm")
    np.testing.assert_array_equal(back, img)
    grey = rand(1, 3)
    write_pfm(tmp_path / "g.pfm", grey[..., 0])
    assert (tmp_path / "g.pfm").read_bytes().startswith(b"Pf\n")
    np.testing.assert_array_equal(read_pfm(tmp_path / "g.pfm"), grey)
    # big-endian (positive scale) files from other writers
    (tmp_path / "be.pfm").write_bytes(b"Pf\n2 1\n1.0\n" + np.array([1.5, -2.0], dtype=">f4").tobytes())
    np.testing.assert_array_equal(read_pfm(tmp_path / "be.pfm")[..., 0], [[1.5, -2.0]])


def test_pfm_bad_files(tmp_path):
    (tmp_path / "bad.pfm").write_bytes(b"P6\n2 2\n255\n" + bytes(12))
    with pytest.raises(PfmError, match="not a PFM"):
        read_pfm(tmp_path / "bad.pfm")
    (tmp_path / "short.pfm").write_bytes(b"PF\n4 4\n-1.0\n" + bytes(10))
    with pytest.raises(BufferError, match="needs 192 bytes"):
        read_pfm(tmp_path / "short.pfm")


# --- LDR ------------------------------------------------------------------------------------
def test_srgb_helpers():
    x = np.linspace(0, 1, 101, dtype=np.float32)
    np.testing.assert_allclose(srgb_decode(srgb_encode(x)), x, atol=1e-6)
    assert srgb_encode(np.float32(0.5)) == pytest.approx(0.7354, abs=1e-4)
    ldr = tonemap_to_ldr(np.array([np.nan, np.inf, -1.0, 0.25, 2.0], dtype=np.float32), exposure=2.0)
    np.testing.assert_allclose(ldr, [0, 1, 0, srgb_encode(np.float32(0.5)), 1], atol=1e-6)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_ldr_roundtrip(tmp_path, ext):
    img = srgb_decode(rand(3, 4, 0, 1))  # linear values whose sRGB codes are spread over [0, 1]
    if ext == ".jpg":
        img[:] = img.mean(axis=(0, 1))  # JPEG is lossy on detail; a flat colour must survive
    write_image(tmp_path / f"x{ext}", img)
    back = read_image(tmp_path / f"x{ext}")
    assert back.shape == (H, W, 3) and back.dtype == np.float32
    tol = 1 if ext == ".png" else 2  # JPEG's YCbCr round trip costs another code value
    np.testing.assert_allclose(srgb_encode(back), srgb_encode(img), atol=tol / 255 + 1e-6)


def test_read_image_dispatch(tmp_path):
    img = rand(3)
    for ext in (".exr", ".pfm"):
        write_image(tmp_path / f"i{ext}", img)
        np.testing.assert_array_equal(read_image(tmp_path / f"i{ext}"), img)
    write_image(tmp_path / "d.exr", img[..., :1])
    assert read_exr_channels(tmp_path / "d.exr").keys() == {"Y"}
    np.testing.assert_array_equal(read_image(tmp_path / "d.exr"), np.repeat(img[..., :1], 3, axis=2))
    with pytest.raises(BufferError, match="unsupported"):
        read_image(tmp_path / "x.tiff")


# --- multi-layer layouts ----------------------------------------------------------------------
def test_buffers_roundtrip_mitsuba_names(tmp_path):
    b = full_buffers()
    write_buffers(tmp_path / "m.exr", b)
    names = set(read_exr_channels(tmp_path / "m.exr"))
    assert {
        "R",
        "G",
        "B",
        "albedo.R",
        "nn.X",
        "nn.Z",
        "depth.Y",
        "pos.Y",
        "motion.X",
        "motion.Y",
        "color_var.B",
        "albedo_var.R",
        "normal_var.Z",
        "depth_var.Y",
    } <= names
    assert detect_layout(names) == "mitsuba"
    assert_same(read_buffers(tmp_path / "m.exr"), b)


def test_mitsuba_aov_names(tmp_path):
    """Names as Mitsuba's aov integrator writes them (``albedo:albedo,nn:sh_normal,dd.y:depth``)."""
    c, a, n, d = rand(3), rand(3, 1, 0, 1), rand(3, 2, -1, 1), rand(1, 3)
    ch = {
        "R": c[..., 0],
        "G": c[..., 1],
        "B": c[..., 2],
        "A": np.ones((H, W), np.float32),
        "albedo.R": a[..., 0],
        "albedo.G": a[..., 1],
        "albedo.B": a[..., 2],
        "nn.X": n[..., 0],
        "nn.Y": n[..., 1],
        "nn.Z": n[..., 2],
        "dd.T": d[..., 0],
    }
    write_exr_channels(tmp_path / "aov.exr", ch)
    b = read_buffers(tmp_path / "aov.exr")
    assert_same(b, Buffers(color=c, albedo=a, normal=n, depth=d))


def test_cycles_names(tmp_path):
    c, noisy, a, n, d, v = rand(3), rand(3, 9), rand(3, 1, 0, 1), rand(3, 2, -1, 1), rand(1, 3), rand(4, 5)
    ch = {}
    for i, comp in enumerate("RGBA"):
        ch[f"RenderLayer.Combined.{comp}"] = np.ones((H, W), np.float32) if comp == "A" else c[..., i]
    for i, comp in enumerate("RGB"):
        ch[f"RenderLayer.Denoising Albedo.{comp}"] = a[..., i]
    for i, comp in enumerate("XYZ"):
        ch[f"RenderLayer.Denoising Normal.{comp}"] = n[..., i]
        ch[f"RenderLayer.Normal.{comp}"] = -n[..., i]  # the denoising pass is preferred
    for i, comp in enumerate("XYZW"):
        ch[f"RenderLayer.Vector.{comp}"] = v[..., i]
    ch["RenderLayer.Depth.Z"] = d[..., 0]
    write_exr_channels(tmp_path / "cy.exr", ch)
    assert detect_layout(ch) == "cycles"
    # Blender's Vector pass (y up; B,A = minus the motion to the next frame) in our convention
    motion, motion_next = v[..., :2] * [1, -1], v[..., 2:] * [-1, 1]
    want = Buffers(color=c, albedo=a, normal=n, depth=d, motion=motion, motion_next=motion_next)
    assert_same(read_buffers(tmp_path / "cy.exr"), want)
    # with Cycles denoising on, Combined is the denoised image: the noisy one is read instead
    for i, comp in enumerate("RGB"):
        ch[f"RenderLayer.Noisy Image.{comp}"] = noisy[..., i]
    write_exr_channels(tmp_path / "cy.exr", ch)
    np.testing.assert_array_equal(read_buffers(tmp_path / "cy.exr")["color"], noisy)


def test_cycles_writer_and_view_layers(tmp_path):
    b = full_buffers().subset(["color", "albedo", "normal", "depth"])
    write_buffers(tmp_path / "c.exr", b, style="cycles")
    assert "ViewLayer.Denoising Albedo.G" in read_exr_channels(tmp_path / "c.exr")
    assert_same(read_buffers(tmp_path / "c.exr"), b)
    with pytest.raises(BufferError, match="color_var"):
        write_buffers(tmp_path / "v.exr", full_buffers(), style="cycles")
    ch = {f"{lay}.Combined.{c}": rand(1)[..., 0] for lay in ("Fg", "Bg") for c in "RGB"}
    write_exr_channels(tmp_path / "two.exr", ch)
    with pytest.raises(BufferError, match="Bg, Fg"):
        read_buffers(tmp_path / "two.exr")
    np.testing.assert_array_equal(read_buffers(tmp_path / "two.exr", layer="Fg")["color"][..., 0], ch["Fg.Combined.R"])


def test_plain_and_missing_colour(tmp_path):
    write_image(tmp_path / "p.exr", rand(3))
    assert detect_layout(read_exr_channels(tmp_path / "p.exr")) == "plain"
    assert read_buffers(tmp_path / "p.exr").names() == ["color"]
    write_exr_channels(tmp_path / "nc.exr", {n: rand(1)[..., 0] for n in ("albedo.R", "albedo.G", "albedo.B", "weird")})
    with pytest.raises(BufferError, match=r"nc\.exr.*no colour.*albedo\.B, albedo\.G, albedo\.R, weird"):
        read_buffers(tmp_path / "nc.exr")
    write_exr_channels(tmp_path / "part.exr", {c: rand(1)[..., 0] for c in ("R", "G", "B", "albedo.R", "albedo.G")})
    with pytest.raises(BufferError, match="albedo: channel.*albedo.B missing"):
        read_buffers(tmp_path / "part.exr")


# --- OIDN dataset layout ------------------------------------------------------------------
def test_oidn_write_find_read(tmp_path):
    b4, b16, ref = full_buffers(0), full_buffers(10), full_buffers(20).subset(["color", "albedo", "normal"])
    write_oidn_frame(tmp_path, "room", 4, b4)
    write_oidn_frame(tmp_path, "room", 16, b16)
    paths = write_oidn_frame(tmp_path, "room", "ref", ref)
    assert sorted(p.name for p in paths) == ["room_ref.alb.exr", "room_ref.hdr.exr", "room_ref.nrm.exr"]
    assert (tmp_path / "room_0016spp.var.exr").exists() and (tmp_path / "room_0016spp.z.exr").exists()
    assert set(read_exr_channels(tmp_path / "room_0016spp.z.exr")) == {"Y"}

    frames = find_frames(tmp_path)
    fs = frames["room"]
    assert fs.spp == [4, 16] and fs.reference == "ref" and fs.reference_spp is None and fs.inputs == [4, 16]
    assert_same(read_oidn_frame(tmp_path, "room", 16), b16)
    assert_same(fs.read(4), b4)
    assert_same(fs.read("ref"), ref)


def test_oidn_reference_is_highest_spp_and_pfm(tmp_path):
    c = {s: Buffers(color=rand(3, s), albedo=rand(3, s + 1, 0, 1)) for s in (1, 8, 512)}
    for s, b in c.items():
        write_oidn_frame(tmp_path / "scene", "cam0", s, b, fmt="pfm" if s == 8 else "exr")
    # files named by hand OIDN-style: bare spp count, a _gt reference in another frame
    write_image(tmp_path / "scene" / "cam1_0002.hdr.exr", rand(3, 3))
    write_image(tmp_path / "scene" / "cam1_gt.hdr.pfm", rand(3, 4))
    (tmp_path / "scene" / "notes_ref.txt").write_text("ignored")

    frames = find_frames(tmp_path)
    assert list(frames) == ["scene/cam0", "scene/cam1"]
    cam0, cam1 = frames["scene/cam0"], frames["scene/cam1"]
    assert cam0.spp == [1, 8, 512] and cam0.reference is None and cam0.reference_spp == 512
    assert cam0.inputs == [1, 8]
    assert_same(cam0.read("ref"), c[512])
    assert_same(read_oidn_frame(tmp_path, "scene/cam0", 8), c[8])
    assert cam1.spp == [2] and cam1.reference == "gt" and cam1.reference_spp is None
    np.testing.assert_array_equal(cam1.read("gt")["color"], rand(3, 4))


def test_oidn_errors(tmp_path):
    write_oidn_frame(tmp_path, "f", 4, Buffers(color=rand(3)))
    write_image(tmp_path / "f_0004spp.alb.exr", np.ones((H // 2, W // 2, 3), np.float32))
    with pytest.raises(BufferError, match=r"f_0004spp\.(alb|hdr)\.exr.*but the others are"):
        read_oidn_frame(tmp_path, "f", 4)
    with pytest.raises(BufferError, match="no files at 16 spp; found spp \\[4\\]"):
        read_oidn_frame(tmp_path, "f", 16)
    with pytest.raises(BufferError, match="no frame 'g'.*found: f"):
        read_oidn_frame(tmp_path, "g", 4)
    write_image(tmp_path / "f_4spp.hdr.exr", rand(3))
    with pytest.raises(BufferError, match="two files for the same buffer"):
        find_frames(tmp_path)
