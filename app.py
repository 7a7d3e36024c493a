"""BigModel Studio in the browser: navigation, language and the shared sidebar.

Run it with `streamlit run app.py`. Each page lives in `app_pages/` and is named here, so
its URL (`/` for the data page, `/train`, `/evaluate`, `/predict`, `/models`, `/demo`,
`/glossary`) stays the same in every language.
The folder is not called `pages/`, because Streamlit runs the files of a `pages/` folder
as pages of their own when the first visit after a start is to a page URL. That visit
would skip this file, its navigation and the start of the background services.
"""

import streamlit as st

import studio_ui

st.set_page_config(page_title="BigModel Studio", page_icon=":material/neurology:", layout="wide")

t = studio_ui.translator()
studio_ui.start_services_once()
studio_ui.uploader_texts_ui(t)

# URL path (empty for the default page), title key and icon of each page, in menu order.
PAGES = [
    ("data", "", "ui.nav.data", ":material/photo_library:"),
    ("train", "train", "ui.nav.train", ":material/model_training:"),
    ("evaluate", "evaluate", "ui.nav.evaluate", ":material/fact_check:"),
    ("predict", "predict", "ui.nav.predict", ":material/image_search:"),
    ("models", "models", "ui.nav.models", ":material/inventory_2:"),
    ("demo", "demo", "demo.nav", ":material/slideshow:"),
    ("glossary", "glossary", "glossary.page.title", ":material/menu_book:"),
]

page = st.navigation(
    [
        st.Page(
            f"app_pages/{name}.py",
            title=t(title),
            icon=icon,
            url_path=url_path or None,
            default=not url_path,
        )
        for name, url_path, title, icon in PAGES
    ]
)

with st.sidebar:
    st.title(t("ui.app.name"))
    st.caption(t("ui.app.tagline"))
    studio_ui.language_switch_ui(t)

page.run()
