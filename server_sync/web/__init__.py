"""The central office's web app (`kiosk-central serve`): every site's results, live, for the
right people. A new face on the same numbers: pages call the analysis and report code the
commands call, and never compute a figure of their own.

What a person may see is decided once, in `scope.visible_sites`, and every query of every page,
export, API call and live stream is limited to those sites.
"""
