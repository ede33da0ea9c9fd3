"""A path tracer that splits each sample's radiance by the first bounce's BSDF lobe.

Vogels et al. 2018 §6.1 (after Bako et al. 2017) denoise diffuse and specular light separately.
The ``lobes`` integrator is Mitsuba's ``path`` (next-event estimation with power-heuristic MIS,
Russian roulette from ``rr_depth``) in Python, with two AOVs, ``diffuse`` and ``specular``, such
that ``diffuse + specular`` is the sample's colour (to float rounding: ``specular`` is computed
as colour − diffuse).

Split at the first surface vertex x₁, where the BSDF f = f_d + f_o (diffuse lobes, the rest):

* emission seen directly (the camera ray hits an emitter, or the environment) is ``specular``:
  it carries no albedo, so demodulating it by the albedo would be wrong;
* next-event estimation at x₁ weights the light by f_d(ω) for ``diffuse`` (f_d evaluated with a
  diffuse-only BSDF context) and the rest for ``specular``;
* everything the path gathers after x₁ is split by q = f_d(ω)/f(ω) at the sampled direction ω
  (q = 0 for a delta lobe: a mirror or glass bounce is specular).

Splitting by the lobe *ratio* rather than by which lobe was sampled keeps both components
unbiased estimates of their own integrals (a sampled-lobe split attributes f/pdf of the whole BSDF
to one lobe) and no noisier than the colour. Second and later bounces are not split: indirect
light reaching a diffuse first hit is diffuse, whatever it bounced off before.
"""

from __future__ import annotations

from typing import Any

_REGISTERED = False
# dr.syntax recompiles `sample` against this module's globals, so the modules live here (bound by
# register(), once the variant is set), not in a closure
mi: Any = None
dr: Any = None
AOV_NAMES = ["diffuse.R", "diffuse.G", "diffuse.B", "specular.R", "specular.G", "specular.B"]


def _mis_weight(a, b):
    """Power heuristic a²/(a² + b²), 0 where undefined (as Mitsuba's path.cpp)."""
    a2, b2 = a * a, b * b
    w = a2 / (a2 + b2)
    return dr.select(dr.isfinite(w), w, 0.0)


def register(mitsuba_module) -> None:
    """Register the ``lobes`` integrator with Mitsuba (once per process, after the variant is set)."""
    global _REGISTERED, mi, dr
    if _REGISTERED:
        return
    import drjit

    mi, dr = mitsuba_module, drjit

    class LobesIntegrator(mi.SamplingIntegrator):
        def __init__(self, props):
            super().__init__(props)
            self.max_depth = int(props.get("max_depth", 8))
            self.rr_depth = int(props.get("rr_depth", 5))

        def aov_names(self):
            return AOV_NAMES

        def to_string(self):
            return f"LobesIntegrator[max_depth={self.max_depth}, rr_depth={self.rr_depth}]"

        @dr.syntax
        def sample(self, scene, sampler, ray, medium=None, active=True):
            ctx = mi.BSDFContext()
            ctx_diffuse = mi.BSDFContext()
            ctx_diffuse.type_mask = mi.BSDFFlags.Diffuse
            ray = mi.Ray3f(ray)
            throughput = mi.Spectrum(1.0)
            result = mi.Spectrum(0.0)
            diffuse = mi.Spectrum(0.0)
            q = mi.Spectrum(0.0)  # diffuse share of what the path gathers after x₁ (0 before x₁)
            eta = mi.Float(1.0)
            depth = mi.UInt32(0)
            valid_ray = mi.Bool(scene.environment() is not None)
            prev_si = dr.zeros(mi.Interaction3f)
            prev_bsdf_pdf = mi.Float(1.0)
            prev_bsdf_delta = mi.Bool(True)
            active = mi.Bool(active)

            while active:
                si = scene.ray_intersect(ray, ray_flags=mi.RayFlags.All, coherent=depth == 0, active=active)
                first = depth == 0

                # emission hit by the ray (MIS against the previous vertex's emitter sampling)
                ds = mi.DirectionSample3f(scene, si=si, ref=prev_si)
                em_pdf = mi.Float(0.0)
                if ~prev_bsdf_delta:
                    em_pdf = scene.pdf_emitter_direction(prev_si, ds, ~prev_bsdf_delta)
                emitted = throughput * ds.emitter.eval(si, prev_bsdf_pdf > 0) * _mis_weight(prev_bsdf_pdf, em_pdf)
                result += emitted
                diffuse += q * emitted

                active_next = (depth + 1 < self.max_depth) & si.is_valid()
                bsdf = si.bsdf(ray)

                # next-event estimation
                active_em = active_next & mi.has_flag(bsdf.flags(), mi.BSDFFlags.Smooth)
                ds, em_weight = scene.sample_emitter_direction(si, sampler.next_2d(), True, active_em)
                active_em &= ds.pdf != 0.0
                wo = si.to_local(ds.d)

                sample_1 = sampler.next_1d()
                sample_2 = sampler.next_2d()
                bsdf_val, bsdf_pdf, bsdf_sample, bsdf_weight = bsdf.eval_pdf_sample(
                    ctx, si, wo, sample_1, sample_2, active_next
                )
                mis_em = dr.select(ds.delta, 1.0, _mis_weight(ds.pdf, bsdf_pdf))
                light = dr.select(active_em, throughput * em_weight * mis_em, 0.0)
                result += light * bsdf_val
                at_first = active_next & first
                f_d_em = bsdf.eval(ctx_diffuse, si, wo, at_first & active_em)
                diffuse += dr.select(first, light * f_d_em, q * light * bsdf_val)

                # the diffuse share of the continuation, fixed at x₁
                if at_first:
                    delta = mi.has_flag(bsdf_sample.sampled_type, mi.BSDFFlags.Delta)
                    f_d = bsdf.eval(ctx_diffuse, si, bsdf_sample.wo, at_first & ~delta)
                    f = bsdf_weight * bsdf_sample.pdf  # the non-delta BSDF value the sample weighs by
                    share = dr.select(f > 0, f_d / f, 0.0)
                    q = dr.select(delta, 0.0, dr.clip(share, 0.0, 1.0))

                ray = si.spawn_ray(si.to_world(bsdf_sample.wo))
                throughput *= bsdf_weight
                eta *= bsdf_sample.eta
                valid_ray |= active & si.is_valid() & ~mi.has_flag(bsdf_sample.sampled_type, mi.BSDFFlags.Null)
                prev_si = mi.Interaction3f(si)
                prev_bsdf_pdf = bsdf_sample.pdf
                prev_bsdf_delta = mi.has_flag(bsdf_sample.sampled_type, mi.BSDFFlags.Delta)
                depth[si.is_valid()] += 1

                throughput_max = dr.max(throughput)
                rr_prob = dr.minimum(throughput_max * eta * eta, 0.95)
                rr_active = depth >= self.rr_depth
                rr_continue = sampler.next_1d() < rr_prob
                throughput[rr_active] *= dr.rcp(rr_prob)
                active = active_next & (~rr_active | rr_continue) & (throughput_max != 0.0)

            result = dr.select(valid_ray, result, 0.0)
            diffuse = dr.select(valid_ray, diffuse, 0.0)
            specular = result - diffuse
            return result, valid_ray, [diffuse.x, diffuse.y, diffuse.z, specular.x, specular.y, specular.z]

    mi.register_integrator("lobes", lambda props: LobesIntegrator(props))
    _REGISTERED = True
