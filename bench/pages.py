"""The report pages in headless Chromium on a real demo run: the command line of
neurecon.studies.pages. Renders and denoises one scene (`neurecon demo`), writes the comparison
page of its directory (`neurecon report`), drags each page's slider and saves full-page
screenshots and the checks' readings in bench/results/pages/.

.venv/bin/python bench/pages.py                    # 128², 4 spp, 256-spp reference
.venv/bin/python bench/pages.py --size 256 --ref-spp 1024
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

# neurecon before torch: it picks the OpenMP wait policy before torch loads its runtime
from neurecon.studies import pages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--spp", type=int, default=4)
    ap.add_argument("--ref-spp", type=int, default=256)
    ap.add_argument("--out", default="bench/results/pages")
    a = ap.parse_args(argv)
    why = pages.unavailable()
    if why:
        raise SystemExit(f"bench/pages.py: {why}")
    import torch

    from neurecon.report import write_report_dir
    from neurecon.studies.common import write_json
    from neurecon.tasks.denoise.demo import run_demo

    torch.set_num_threads(1)
    out = Path(a.out)
    with tempfile.TemporaryDirectory() as parent:
        tmp = str(Path(parent) / "demo")
        run_demo(tmp, size=a.size, spp=a.spp, ref_spp=a.ref_spp)
        page, summary = write_report_dir(tmp, Path(tmp) / "report.html", title="neurecon demo: the report page")
        report = pages.check_report(page, out / "report.png")
        lam = pages.check_lambda_page(Path(tmp) / "report" / "lambda" / "index.html", out / "lambda.png")
    result = {"size": a.size, "spp": a.spp, "ref_spp": a.ref_spp, "report": report, "lambda": lam, "summary": summary}
    write_json(out / "pages.json", result)
    print(
        f"report: {report['before']['readout']} -> {report['after']['readout']}, uncovered band changed by "
        f"{report['changed_uncovered']:.1f}/255 (elsewhere {report['changed_left']:.1f}, "
        f"{report['changed_right']:.1f}); "
        f"λ: {lam['before']['label']} -> {lam['after']['label']}, image changed by {lam['changed']:.1f}/255; "
        f"screenshots in {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
