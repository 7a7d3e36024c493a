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

page = st.navigation(
    [
        st.Page(
            "app_pages/data.py",
            title=t("ui.nav.data"),
            icon=":material/photo_library:",
            default=True,
        ),
        st.Page(
            "app_pages/train.py",
            title=t("ui.nav.train"),
            icon=":material/model_training:",
            url_path="train",
        ),
        st.Page(
            "app_pages/evaluate.py",
            title=t("ui.nav.evaluate"),
            icon=":material/fact_check:",
            url_path="evaluate",
        ),
        st.Page(
            "app_pages/predict.py",
            title=t("ui.nav.predict"),
            icon=":material/image_search:",
            url_path="predict",
        ),
        st.Page(
            "app_pages/models.py",
            title=t("ui.nav.models"),
            icon=":material/inventory_2:",
            url_path="models",
        ),
        st.Page(
            "app_pages/demo.py",
            title=t("demo.nav"),
            icon=":material/slideshow:",
            url_path="demo",
        ),
        st.Page(
            "app_pages/glossary.py",
            title=t("glossary.page.title"),
            icon=":material/menu_book:",
            url_path="glossary",
        ),
    ]
)

with st.sidebar:
    st.title(t("ui.app.name"))
    st.caption(t("ui.app.tagline"))
    studio_ui.language_switch_ui(t)

page.run()
