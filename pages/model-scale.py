"""Model scale: BERT's 110M next to GPT-3's 175B, where parameters live, memory, compute, and a model you build."""

import streamlit as st

from components.sections import scale_views as views
from components.guard import guarded_callback
from components.html import escape_markdown
from components.setup import route_through_app
from components.state import to_query
from lib.scale import published as scale_catalog

route_through_app()
st.title("Model scale: from BERT to GPT-3 and beyond")
st.markdown("BERT-base has about **110 million** parameters; GPT-3 has **175 billion**, about 1,600 times more. "
            "Every number here is counted from the architecture and shown next to the number its authors published.")

# -- which models: ?models=a,b,c ------------------------------------------------------------------------
index = scale_catalog.by_key()
if "scale_models" not in st.session_state:
    picked, unknown = scale_catalog.parse_selection(st.query_params.get("models"))
    st.session_state["scale_models"] = picked
    if unknown:
        st.warning(f"Not in the catalog, so left out: {escape_markdown(', '.join(unknown))}. Names look like "
                   "`gpt3-175b`, `bert-base` or `llama-3-8b`; the *Catalog and sources* tab lists them all.")


@guarded_callback
def select(keys) -> None:
    st.session_state["scale_models"] = list(keys)


top = st.columns([7, 1.2, 1.2, 1])
selected = top[0].multiselect("Models on the charts (kept in the link as ?models=…)", list(index), key="scale_models",
                              format_func=lambda k: index[k].name)
top[1].button("Lecture set", on_click=select, args=(scale_catalog.DEFAULT_SELECTION,), width="stretch")
top[2].button("GPT-3 family", on_click=select, width="stretch",
              args=(["bert-base", "gpt2-small"] + [k for k in index if k.startswith("gpt3-")],))
top[3].button("All", on_click=select, args=(list(index),), width="stretch")
to_query(models=",".join(selected))
models = [index[k] for k in selected]

tabs = st.tabs(views.VIEWS, key="view", bind="query-params")
for tab, view in zip(tabs, (views.scale_view, views.parameters_view, views.memory_view, views.compute_view,
                            views.builder_view, views.bert_vs_gpt_view, views.catalog_view)):
    with tab:
        if tab.open:  # lazy tabs: only the open one runs
            view(models, index)
