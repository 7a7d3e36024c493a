"""Glossary: every data term, setting and metric explained in plain words, with a search box.

Query parameter: `q`, the search text, so a filtered glossary can be linked.
"""

import streamlit as st

import studio_ui
from bigmodel import glossary

t = studio_ui.translator()

st.title(t("glossary.page.title"))
st.caption(t("glossary.page.intro"))

if "glossary_filter" not in st.session_state:
    st.session_state["glossary_filter"] = st.query_params.get("q", "")
query = st.text_input(
    t("glossary.page.filter"), key="glossary_filter", placeholder=t("glossary.page.filter_hint")
)
if query.strip():
    st.query_params["q"] = query.strip()
else:
    st.query_params.pop("q", None)

every_entry = glossary.entries(t)
matching = glossary.search(every_entry, query)
if not matching:
    st.info(t("glossary.page.no_match", query=query.strip()))
    st.stop()
st.caption(t("glossary.page.count", shown=len(matching), total=len(every_entry)))

for group in glossary.GROUPS:
    in_group = [entry for entry in matching if entry.group == group]
    if not in_group:
        continue
    st.subheader(t(f"glossary.group.{group}"))
    for entry in in_group:
        st.markdown(f"**{entry.name}**  \n{entry.text}")
        if entry.advice:
            st.caption(t("glossary.page.advice", advice=entry.advice))
