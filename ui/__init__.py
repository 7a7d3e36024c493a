"""Streamlit helpers that draw parts of the pages, moved out so that each page stays short."""
