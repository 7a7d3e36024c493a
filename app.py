"""BigModel Studio in the browser: navigation, language and the shared sidebar.

Run it with `streamlit run app.py`. Each page lives in `pages/` and is named here, so
its URL (`/data`, `/train`, `/predict`, `/models`) stays the same in every language.
"""

import streamlit as st

import studio_ui

st.set_page_config(page_title="BigModel Studio", page_icon=":material/neurology:", layout="wide")

t = studio_ui.translator()
studio_ui.start_services_once()

page = st.navigation(
    [
        st.Page(
            "pages/data.py",
            title=t("ui.nav.data"),
            icon=":material/photo_library:",
            url_path="data",
            default=True,
        ),
        st.Page(
            "pages/train.py",
            title=t("ui.nav.train"),
            icon=":material/model_training:",
            url_path="train",
        ),
        st.Page(
            "pages/predict.py",
            title=t("ui.nav.predict"),
            icon=":material/image_search:",
            url_path="predict",
        ),
        st.Page(
            "pages/models.py",
            title=t("ui.nav.models"),
            icon=":material/inventory_2:",
            url_path="models",
        ),
    ]
)

with st.sidebar:
    st.title(t("ui.app.name"))
    st.caption(t("ui.app.tagline"))
    studio_ui.language_switch_ui(t)

page.run()
