import pytest
import torch

from neurecon.nn.kernels import apply_kernels, apply_kernels_reference, softmax_kernels


def test_softmax_kernels_are_nonnegative_and_sum_to_one():
    w = softmax_kernels(torch.randn(2, 49, 6, 5) * 10)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(1), torch.ones(2, 6, 5))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_one_hot_kernel_returns_input(k):
    x = torch.randn(2, 3, 7, 9)
    w = torch.zeros(2, k * k, 7, 9)
    w[:, (k * k) // 2] = 1  # centre tap
    torch.testing.assert_close(apply_kernels(x, w), x)


def test_shifted_one_hot_kernel_shifts_image():
    x = torch.randn(1, 3, 6, 6)
    w = torch.zeros(1, 9, 6, 6)
    w[:, 5] = 1  # (dy, dx) = (1, 2) in a 3×3 kernel: right neighbour
    out = apply_kernels(x, w)
    torch.testing.assert_close(out[..., :-1], x[..., 1:])
    torch.testing.assert_close(out[..., -1], x[..., -1])  # replicate padding at the border


def test_matches_unfold_reference_forward_and_backward():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 11, dtype=torch.float64, requires_grad=True)
    w = softmax_kernels(torch.randn(2, 25, 8, 11, dtype=torch.float64)).requires_grad_()
    g = torch.randn(2, 3, 8, 11, dtype=torch.float64)
    out = apply_kernels(x, w)
    ref = apply_kernels_reference(x, w)
    torch.testing.assert_close(out, ref)
    gx, gw = torch.autograd.grad(out, (x, w), g)
    rx, rw = torch.autograd.grad(ref, (x, w), g)
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gw, rw)


def test_gradcheck():
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    w = torch.rand(1, 9, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(apply_kernels, (x, w))


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="odd"):
        apply_kernels(torch.zeros(1, 3, 4, 4), torch.zeros(1, 16, 4, 4))
    with pytest.raises(ValueError, match="disagree"):
        apply_kernels(torch.zeros(1, 3, 4, 4), torch.zeros(1, 9, 4, 5))
