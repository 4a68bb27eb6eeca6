"""The page table (lib/page_table.py) as Streamlit pages: the router's st.navigation and the home page's links."""

from __future__ import annotations

import streamlit as st

from components.setup import routed
from lib.page_table import ON_HOME, PAGES


def app_pages() -> list[st.Page]:
    """One st.Page per row, in the table's order (the sidebar's order)."""
    return [st.Page(row.file, title=row.title, icon=row.icon, url_path=row.url_path or None, default=row.default)
            for row in PAGES]


def run_page(page: st.Page) -> None:
    """Run the page st.navigation chose, marked as routed (components.setup.route_through_app)."""
    with routed():
        page.run()


def home_links() -> None:
    for row in ON_HOME:
        st.page_link(row.file, label=row.home_label, icon=row.icon)
