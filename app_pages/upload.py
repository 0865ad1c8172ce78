"""Upload a day's export: size-checked, ingested into the store, rejects offered as CSV."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import streamlit as st

from app_pages._access import access_store
from app_pages._shared import file_bytes, layers, load
from gridwatch.access import log_action
from gridwatch.errors import GridwatchError
from gridwatch.output.files import write_table
from gridwatch.pipeline import run_ingest
from gridwatch.store.transactional import Store
from gridwatch.ui.i18n import tr

ctx = load()
lang = ctx.lang
if not ctx.user.may("import"):  # app.py lists this page for them only; a stale link too
    st.error(tr("not_allowed", lang))
    st.stop()
limit_mb = ctx.config.input.max_file_mb
st.header(tr("page_upload", lang))
st.write(tr("upload_help", lang))
upload = st.file_uploader(f"{tr('upload_file', lang)} (≤ {limit_mb:g} MB)",
                          type=["csv", "xlsx", "json", "geojson", "gz", "zip"],
                          max_upload_size=max(int(limit_mb), 1), key="u_file")
if upload is not None:
    if upload.size > limit_mb * 1024 * 1024:
        st.error(f"{tr('upload_too_big', lang)}: {upload.size / 1e6:.1f} MB > {limit_mb:g} MB")
    elif st.button(tr("import", lang), type="primary", key="u_go"):
        # keep only a safe file name: the ingest reads the format from the extension
        name = re.sub(r"[^\w.\-]", "_", Path(upload.name).name)[-120:] or "upload.csv"
        with tempfile.TemporaryDirectory(prefix="gridwatch-upload-") as folder, \
                st.status(tr("import", lang), expanded=True) as status:
            path = Path(folder) / name
            path.write_bytes(upload.getvalue())
            try:
                with Store(ctx.project.db_url) as store:
                    summary, rejects = run_ingest(
                        [path], config=ctx.config, store=store,
                        layers=layers(ctx.project.config_path), progress=status.write)
            except GridwatchError as exc:
                status.update(state="error")
                st.error(str(exc))
                st.stop()
            except Exception as exc:  # never a traceback page: say what failed, plainly
                status.update(state="error")
                st.error(f"{tr('error', lang)}: {type(exc).__name__}: {exc}")
                st.stop()
            log_action(access_store(ctx.project.db_url), ctx.user.name, "import",
                       run_id=summary.run_id, files=[upload.name], accepted=summary.accepted,
                       rejected=summary.rejected)
            status.update(label=tr("upload_done", lang), state="complete")
        st.session_state["u_result"] = (summary, rejects)
result = st.session_state.get("u_result")
if result is not None:
    summary, rejects = result
    cols = st.columns(4)
    for col, key in zip(cols, ("accepted", "rejected", "inserted", "updated"), strict=True):
        col.metric(tr(key, lang), f"{getattr(summary, key):,}")
    if len(rejects):
        st.dataframe(rejects, hide_index=True, width="stretch")
        st.download_button(tr("rejects_csv", lang), key="u_rejects",
                           data=file_bytes(lambda p: write_table(rejects, p), "rejects.csv"),
                           file_name="rejects.csv", mime="text/csv")
