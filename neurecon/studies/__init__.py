"""Studies: what the benchmarks in ``bench/`` compute, as importable and tested functions.

Each module holds one study (its statistics, fits, figures and the loop that produces its JSON);
``bench/<study>.py`` is only its command line. Shared pieces live once: :mod:`.common` (JSON
output, headless plotting, box filters, the densest window of a score map), :mod:`.timing`
(random frames, interleaved and repeated timing) and :mod:`.blend` (the λ values, error spaces,
β fits and λ outputs both Fig. 18 studies use).

Modules: :mod:`.albedo_ratio`, :mod:`.asymmetric`, :mod:`.asymmetric_noise`, :mod:`.denoise_bench`,
:mod:`.dssim_gap`, :mod:`.eco`, :mod:`.inference`, :mod:`.kp_vs_dp`, :mod:`.lambda_speed`,
:mod:`.lambda_valid`, :mod:`.render_speed`.

Studies import the core (``neurecon.io``, ``nn``, ``metrics``, ``models``, ``infer``, ``render``,
``peers``, ``report``, ``train``) and ``neurecon.tasks``; nothing in the core imports them.
Nothing here is imported by ``import neurecon``.
"""
