"""Sphinx configuration of the course book (web/build.py runs sphinx-build with it).

The pages are the committed, executed notebooks, rendered by myst-nb without running
them again. Nothing on a page may load from another host: the site is served as static
files and must work offline, so widget and math JavaScript from CDNs is switched off.
"""

project = "layerlab"
author = "the layerlab authors"
copyright = "the layerlab authors, MIT licence"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# Render what the notebooks committed; never execute them here.
nb_execution_mode = "off"
# myst-nb would load require.js and the widget manager from a CDN for pages whose
# notebooks hold widget state; the static book shows the widgets' text form instead.
nb_ipywidgets_js = {}
# A notebook's SVG picture is the figure; keep it inline rather than as a file link.
nb_render_image_options = {}
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_title = "layerlab: containers, one layer at a time"
html_static_path = []
html_theme_options = {
    # The placeholder account, as in the README's Binder link.
    "repository_url": "https://github.com/layerlab/layerlab",
    "path_to_docs": "",
    "use_repository_button": False,
    "use_download_button": True,
    "launch_buttons": {
        # Relative to each page; every course page sits at the book's top level.
        "jupyterlite_url": "lite/lab/index.html",
        "notebook_interface": "jupyterlab",
    },
    "show_navbar_depth": 1,
}
# A first visit has no stored light/dark choice; say which, so the theme need not guess
# (it logs a console error when it has to).
html_context = {"default_mode": "light"}
