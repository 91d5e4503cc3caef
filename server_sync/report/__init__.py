"""Renderings of the loyalty report: JSON, CSV, and one self-contained HTML file with SVG charts."""
