"""Builders from a checkpoint's spec (``{"arch": name, **constructor arguments}``, arch removed)
to a module; :mod:`.registry` names them. Imports are deferred so that loading one kind of
model does not import the others."""

from __future__ import annotations

from torch import nn


def kpcn(spec: dict) -> nn.Module:
    from ..nn.kpcn import KPCN, KPCNConfig

    return KPCN(KPCNConfig(**spec))


def unet(spec: dict) -> nn.Module:
    from ..nn.unet import UNetConfig, UNetKPCN

    return UNetKPCN(UNetConfig(**{**spec, "widths": tuple(spec.get("widths", UNetConfig().widths))}))


def error_predictor(spec: dict) -> nn.Module:
    from ..nn.error_predictor import ErrorPredictor

    return ErrorPredictor(**spec)


def kpcn_ms(spec: dict) -> nn.Module:
    from ..nn.kpcn import KPCN, KPCNConfig
    from ..nn.multiscale import MultiScale

    levels = spec.pop("levels", 3)
    return MultiScale(KPCN(KPCNConfig(**spec)), levels)


def kpcn_lambda(spec: dict) -> nn.Module:
    from ..nn.specialiser import LambdaKPCN

    return LambdaKPCN(**spec)


def unet_lambda(spec: dict) -> nn.Module:
    from ..nn.specialiser import LambdaUNet

    return LambdaUNet(**spec)


def edsr(spec: dict) -> nn.Module:
    from ..nn.sr import EDSR

    return EDSR(**spec)


def rcan(spec: dict) -> nn.Module:
    from ..nn.sr import RCAN

    return RCAN(**spec)


def relight_unet(spec: dict) -> nn.Module:
    from ..nn.relight import RelightUNet

    return RelightUNet(**spec)


def unet_temporal(spec: dict) -> nn.Module:
    from ..nn.temporal import TemporalUNet

    return TemporalUNet(**spec)


def amnet(spec: dict) -> nn.Module:
    from ..nn.blind_sr import ModulatedEDSR

    return ModulatedEDSR(**spec)


def degradation_estimator(spec: dict) -> nn.Module:
    from ..nn.blind_sr import DegradationEstimator

    return DegradationEstimator(**spec)
