"""The inference shortcuts in nn/blocks.py must be the operations they replace, forward and backward."""

import torch
from torch import nn

from neurecon.nn.blocks import conv3x3, conv3x3_up2_split, pointwise_planar
from neurecon.nn.multiscale import up2

CL = torch.channels_last


def test_pointwise_planar_equals_the_conv_and_returns_planes():
    g = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(6, 25, 1)
    x = torch.randn(2, 6, 9, 11, generator=g)
    ref = conv(x)
    for layout in (torch.contiguous_format, CL):
        out = pointwise_planar(conv.to(memory_format=layout), x.contiguous(memory_format=layout))
        assert out.is_contiguous()  # planar, whatever came in
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_pointwise_planar_without_bias():
    conv = nn.Conv2d(4, 3, 1, bias=False)
    x = torch.randn(1, 4, 5, 5).contiguous(memory_format=CL)
    torch.testing.assert_close(pointwise_planar(conv, x), conv(x), atol=1e-5, rtol=1e-5)


def test_upsampling_split_conv_equals_conv_of_the_concatenation_with_gradients():
    g = torch.Generator().manual_seed(1)
    conv = conv3x3(7, 5)
    with torch.no_grad():
        conv.bias.normal_(generator=g)
    for layout in (torch.contiguous_format, CL):
        a = torch.randn(2, 3, 4, 5, generator=g).contiguous(memory_format=layout).requires_grad_()  # coarse, odd width
        b = torch.randn(2, 4, 8, 10, generator=g, requires_grad=True)
        ref = conv(torch.cat([up2(a), b], 1))
        ga, gb, gw, gbias = torch.autograd.grad(ref.square().sum(), (a, b, conv.weight, conv.bias))
        out = conv3x3_up2_split(conv, a, b)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
        got = torch.autograd.grad(out.square().sum(), (a, b, conv.weight, conv.bias))
        for x, y in zip((ga, gb, gw, gbias), got):
            torch.testing.assert_close(y, x, atol=1e-4, rtol=1e-4)


def test_upsampling_split_conv_rejects_a_skip_of_the_wrong_size():
    import pytest

    with pytest.raises(AssertionError, match="not twice"):
        conv3x3_up2_split(conv3x3(7, 5), torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 8, 9))


def test_pointwise_planar_gradients_on_a_channels_last_batch():
    g = torch.Generator().manual_seed(2)
    conv = nn.Conv2d(5, 9, 1)
    x = torch.randn(2, 5, 7, 6, generator=g).contiguous(memory_format=CL).requires_grad_()
    gx, gw = torch.autograd.grad(conv(x).square().sum(), (x, conv.weight))
    hx, hw = torch.autograd.grad(pointwise_planar(conv, x).square().sum(), (x, conv.weight))
    torch.testing.assert_close(hx, gx, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(hw, gw, atol=1e-4, rtol=1e-4)


def test_compose_equals_eq5_as_written_for_any_alpha():
    from neurecon.nn.multiscale import compose, down2, up2

    g = torch.Generator().manual_seed(3)
    fine, coarse, alpha = (
        torch.rand(2, 3, 8, 6, generator=g),
        torch.rand(2, 3, 4, 3, generator=g),
        torch.rand(2, 1, 8, 6, generator=g),
    )
    eq5 = fine - alpha * up2(down2(fine)) + alpha * up2(coarse)  # o = i_f − α·U(D(i_f)) + α·U(i_c)
    torch.testing.assert_close(compose(fine, coarse, alpha), eq5)
