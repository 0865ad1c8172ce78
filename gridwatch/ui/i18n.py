"""Interface text of the app in Chinese (default) and English.

One table of message keys; :func:`tr` looks a key up, :func:`code_label` names the codes of
categories, sources, statuses and red/yellow/green. A missing key shows itself, so a forgotten
translation is visible rather than blank.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["LANGUAGES", "MESSAGES", "code_label", "column_labels", "tr"]

LANGUAGES: dict[str, str] = {"zh": "中文", "en": "English"}

#: key -> (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("网格化环境监管", "Grid environmental supervision"),
    "page_overview": ("总览地图", "Overview map"),
    "page_league": ("亮晒与提醒", "League and reminders"),
    "page_trends": ("趋势", "Trends"),
    "page_problems": ("问题清单", "Problems"),
    "page_upload": ("导入数据", "Upload"),
    "page_plan": ("巡查计划", "Field plan"),
    "plan_teams": ("队伍数", "Teams"),
    "plan_days": ("天数", "Days"),
    "plan_base": ("出发基地", "Base"),
    "plan_area": ("区域（县区编码或名称，空为全市）", "Area (county id or name; empty: all)"),
    "plan_go": ("生成计划", "Make the plan"),
    "plan_naive": ("简单排序", "Naive"),
    "plan_download": ("下载外业包（全部队伍）", "Download the field packages (all teams)"),
    "plan_emerging": ("新兴热点", "Emerging hot spots"),
    "plan_points": ("反弹与重复投诉", "Rebounds and repeat complaints"),
    "plan_results": ("导入检查结果（填好的检查清单）", "Import results (a filled checklist)"),
    "plan_mismatch": ("网格不符核查", "Grid mismatch audit"),
    "page_ledger": ("督察整改", "Inspection rectification"),
    "ledger_round": ("督察轮次", "Inspection round"),
    "ledger_by": ("统计口径", "Count by"),
    "by_item": ("反馈问题", "Feedback item"), "by_unit": ("责任单位", "Responsible unit"),
    "by_area": ("区域", "Area"),
    "by_leader": ("责任领导", "Responsible leader"),
    "ledger_units": ("责任单位", "Responsible units"),
    "ledger_leaders": ("责任领导", "Responsible leaders"),
    "ledger_awaiting": ("已整改待验收", "Rectified, waiting for acceptance"),
    "ledger_extensions": ("延期", "Extensions"),
    "ledger_history": ("问题履历（状态、整改期限、责任单位的每次变更，验收、复核与延期）",
                       "A problem's history (every change of status, deadline and unit; "
                       "acceptances, re-checks, extensions)"),
    "ledger_no_problem": ("库中没有这个问题编号", "The store has no problem with this id"),
    "ledger_none": ("尚未导入整改台账（gridwatch ledger import 整改台账.xlsx）",
                    "No ledger imported yet (gridwatch ledger import ledger.xlsx)"),
    "ledger_download": ("下载整改进展（XLSX）", "Download the progress (XLSX)"),
    "letters_unanswered": ("未回复的函单（一函两单）", "Letters not answered (一函两单)"),
    # issue 16: enterprises, petitions, campaigns (app_pages/enterprises.py)
    "page_enterprises": ("企业与信访", "Enterprises and petitions"),
    "tab_enterprises": ("企业（一码统管）", "Enterprises"),
    "tab_petitions": ("信访交办件", "Petitions"),
    "tab_campaigns": ("专项行动", "Campaigns"),
    "ent_offenders_only": ("只看屡查屡犯企业", "Repeat offenders only"),
    "ent_offenders": ("屡查屡犯企业", "Repeat offenders"),
    "ent_summary": ("家企业，其中屡查屡犯", "enterprises, repeat offenders:"),
    "ent_none": ("问题数据中没有企业（统一社会信用代码/企业名称）",
                 "No problem names an enterprise (code or name)"),
    "pet_none": ("问题数据中没有交办批次", "No problem belongs to a petition batch"),
    "pet_list": ("交办件清单", "The petitions"),
    "camp_none": ("没有专项行动（专项行动列或 [[campaigns.rules]]）",
                  "No campaign (a campaign column or [[campaigns.rules]])"),
    "camp_by": ("分组", "Split by"),
    "camp_total": ("合计", "Total"),
    "filters": ("筛选", "Filters"),
    "language": ("语言", "Language"),
    "level": ("层级", "Level"),
    "area": ("区域（可输入名称或编码搜索）", "Area (type a name or code to search)"),
    "all": ("全部", "All"),
    "basin": ("流域", "River basin"),
    "redline": ("生态保护红线", "Redline zone"),
    "redline_mode": ("红线范围", "Redline extent"),
    "mode_all": ("不限", "Any"),
    "mode_inside": ("红线内", "Inside"),
    "mode_belt": ("缓冲带内（红线外）", "In the belt (outside)"),
    "mode_near": ("红线内或缓冲带", "Inside or in the belt"),
    "category": ("问题类型", "Category"),
    "source": ("问题来源", "Source"),
    "status": ("办理状态", "Status"),
    "code": ("红黄绿码", "Code"),
    "placed_by": ("定位方式", "Placed by"),
    "matched_at": ("地址匹配来源", "Address matched at"),
    "min_score": ("地址匹配最低得分", "Least address match score"),
    "max_precision_m": ("地址定位精度上限（米）", "Widest address precision (m)"),
    "date_range": ("上报日期", "Reported between"),
    "as_of": ("统计截至", "As of"),
    "colour_by": ("着色依据", "Colour areas by"),
    "colour_red": ("超期数", "Overdue count"),
    "colour_overdue_rate": ("超期率", "Overdue rate"),
    "colour_gistar": ("热点分析 Gi*", "Hot spot analysis Gi*"),
    "heat": ("热力图", "Heat map"),
    "hexagons": ("六边形格网 H3", "H3 hexagons"),
    "open": ("在办", "Open"),
    "red": ("红码（超期）", "Red (overdue)"),
    "yellow": ("黄码（临期）", "Yellow (due soon)"),
    "closure_rate": ("办结率", "Closure rate"),
    "vs_last_week": ("较上周", "vs last week"),
    "problems": ("问题数", "Problems"),
    "overdue": ("超期", "Overdue"),
    "overdue_rate": ("超期率", "Overdue rate"),
    "new": ("新增", "New"),
    "hotspot": ("超期热点", "Overdue hotspot"),
    "hotspots_found": ("超期热点区域", "Overdue hotspot areas"),
    "legend_overdue": ("超期问题数", "Overdue problems"),
    "legend_rate": ("超期率", "Overdue rate"),
    "legend_bins": ("热点/冷点（置信度）", "Hot/cold spots (confidence)"),
    "legend_none": ("0（无超期）", "0 (none overdue)"),
    "legend_most": ("最多", "Most"),
    "legend_hotspot": ("粗黑边：超期热点", "Thick outline: overdue hotspot"),
    "name": ("名称", "Name"),
    "id": ("编码", "Code"),
    "description": ("问题描述", "Description"),
    "deadline": ("整改期限", "Deadline"),
    "reported_at": ("上报时间", "Reported"),
    "responsible_unit": ("责任单位", "Responsible unit"),
    "points": ("问题点位", "Problems"),
    "drill_hint": ("选择一个区域查看下一级；选择网格查看微网格和问题点位。",
                   "Choose an area to see the next level; choose a grid to see its micro-grids "
                   "and problems."),
    "map_size": ("地图数据量", "Map payload"),
    "exports": ("导出", "Exports"),
    "hotspot_layer": ("热点图层", "Hotspot layer"),
    "format": ("格式", "Format"),
    "download": ("下载", "Download"),
    "inspection_list": ("巡查清单（所选区域）", "Inspection list (selected areas)"),
    "review_workbook": ("月复盘工作簿", "Monthly review workbook"),
    "month": ("月份", "Month"),
    "league": ("周亮晒", "Weekly league table"),
    "week": ("周次", "Week"),
    "reminders": ("提醒与督办（一函两单）", "Reminders and escalation"),
    "no_reminders": ("没有需要提醒的问题。", "No problem needs a reminder."),
    "trend_new": ("每周新增（按类型）", "New per week by category"),
    "trend_overdue": ("每周末超期（按类型）", "Overdue at each week's end by category"),
    "table": ("筛选后的问题", "Filtered problems"),
    "rows": ("条", "rows"),
    "page": ("页码", "Page"),
    "upload_help": ("上传一天的导出文件（CSV、XLSX、JSON），入库后可下载被拒绝的行。",
                    "Upload a day's export (CSV, XLSX, JSON); after the import the rejected "
                    "rows can be downloaded."),
    "upload_file": ("导出文件", "Export file"),
    "upload_too_big": ("文件超过大小上限", "The file is larger than the limit"),
    "upload_done": ("导入完成", "Imported"),
    "accepted": ("接收", "Accepted"),
    "rejected": ("拒绝", "Rejected"),
    "inserted": ("新增", "Inserted"),
    "updated": ("更新", "Updated"),
    "rejects_csv": ("下载被拒绝的行（CSV）", "Download the rejected rows (CSV)"),
    "import": ("导入", "Import"),
    "loading": ("正在加载数据…", "Loading data…"),
    "loading_store": ("读取问题库", "Reading the problems"),
    "loading_deadlines": ("计算办理时限", "Deriving the deadlines"),
    "loading_history": ("整理办理记录", "Sorting the status history"),
    "loading_duplicates": ("识别重复上报", "Finding duplicate reports"),
    "loading_codes": ("计算红黄绿码", "Coding the problems"),
    "building_demo": ("首次启动：正在生成嘉兴演示数据…", "First start: building the Jiaxing demo…"),
    "no_data": ("没有符合筛选条件的问题。", "No problem matches the filters."),
    "ignored_params": ("链接中无法识别的参数已忽略", "Ignored parameters in the link"),
    "share_hint": ("筛选条件保存在网址中，可直接复制链接分享。",
                   "The filters are in the address: copy the link to share this view."),
    "error": ("出错了", "Something went wrong"),
    # access (gridwatch.access, app_pages/_access.py)
    "sign_in": ("登录", "Sign in"),
    "user_name": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "sign_out": ("退出登录", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "scope": ("可见范围", "Scope"),
    "scope_all": ("全域", "Whole territory"),
    "sign_in_refused": ("登录失败：用户名或密码错误，或账号已停用。",
                        "Sign-in refused: unknown user, wrong password or disabled account."),
    "not_in_your_area": ("不在您的管辖范围内。", "Not in your area."),
    "no_users_yet": ("尚未创建用户。请在服务器上运行：gridwatch users add 名称 --role admin "
                     "--scope '*'", "No user yet. On the server run: gridwatch users add NAME "
                     "--role admin --scope '*'"),
    "demo_admin": ("演示管理员 admin 的一次性密码已打印在运行 streamlit 的终端中。",
                   "The one-time password of the demo administrator 'admin' was printed in "
                   "the terminal running streamlit."),
    "proxy_no_identity": ("未收到反向代理提供的身份信息，无法登录。",
                          "No identity from the reverse proxy: cannot sign in."),
    "oidc_sign_in": ("通过单位身份认证登录", "Sign in with the organisation's identity "
                                                "provider"),
    "not_allowed": ("您的角色无权进行此操作。", "Your role does not allow this."),
    "page_admin": ("用户与审计", "Users and audit"),
    "users": ("用户", "Users"),
    "audit": ("审计记录", "Audit trail"),
    # satellite patches and evidence photos (gridwatch.patches, gridwatch.evidence)
    "page_patches": ("卫星图斑", "Satellite patches"),
    "patches": ("图斑", "Patches"),
    "patches_none": ("尚未导入卫星图斑（gridwatch patches import FILE）。",
                     "No satellite patches yet (gridwatch patches import FILE)."),
    "suspected": ("待核查", "Suspected"), "confirmed": ("核查属实", "Confirmed"),
    "false_positive": ("核查不属实", "False positive"),
    "area_ha": ("面积（公顷）", "Area (ha)"),
    "in_protected": ("涉及红线/水源地", "In redline or water zone"),
    "patch_id": ("图斑编号", "Patch"),
    "photo_before": ("整改前照片", "Photo before"), "photo_after": ("整改后照片", "Photo after"),
    "thumb_before": ("整改前", "Before"), "thumb_after": ("整改后", "After"),
    "missing_after_photo": ("办结缺整改后照片", "Closed without after-photo"),
}

_CODES: dict[str, tuple[str, str]] = {
    "water": ("水污染", "Water"), "air": ("大气污染", "Air"), "soil": ("土壤污染", "Soil"),
    "solid_waste": ("固体废物", "Solid waste"), "noise": ("噪声", "Noise"),
    "ecology": ("生态破坏", "Ecology"), "other": ("其他", "Other"),
    "grid_patrol": ("网格巡查", "Grid patrol"), "public_report": ("群众举报", "Public report"),
    "hotline": ("热线", "Hotline"), "inspection": ("执法检查", "Inspection"),
    "monitoring": ("在线监测", "Monitoring"), "satellite": ("卫星遥感", "Satellite"),
    "reported": ("待交办", "Reported"), "assigned": ("已交办", "Assigned"),
    "rectifying": ("整改中", "Rectifying"), "closed": ("已办结", "Closed"),
    "verified": ("已销号", "Verified"),
    "accepted": ("验收通过", "Accepted"), "not_accepted": ("验收不通过", "Rejected at acceptance"),
    "red": ("红码", "Red"), "yellow": ("黄码", "Yellow"), "green": ("绿码", "Green"),
    "closed_on_time": ("按期办结", "Closed on time"), "closed_late": ("超期办结", "Closed late"),
    "county": ("县（市、区）", "County"), "town": ("乡镇/街道", "Town"),
    "grid": ("网格", "Grid"), "microgrid": ("微网格", "Micro-grid"),
    "by_coordinates": ("按坐标", "By coordinates"), "by_grid": ("按所属网格", "By reported grid"),
    "by_address": ("按地址（地址解析）", "By address (geocoded)"),
    "address_point": ("标准地址点", "Address point"),
    "history": ("历史问题地址", "Earlier problem"),
    "road": ("道路门牌", "Road"), "area": ("区域（村/镇/网格）", "Area (village, town, grid)"),
}


#: Column headers of the tables the app shows (league, reminders, problems).
_COLUMNS: dict[str, tuple[str, str]] = {
    "week": ("周", "Week"), "rank": ("排名", "Rank"), "area_id": ("编码", "Code"),
    "area_name": ("名称", "Name"), "score": ("得分", "Score"), "new": ("新增", "New"),
    "closed": ("办结", "Closed"), "closed_on_time": ("按期办结", "Closed on time"),
    "closed_late": ("超期办结", "Closed late"), "open": ("在办", "Open"),
    "red": ("红码", "Red"), "yellow": ("黄码", "Yellow"), "green": ("绿码", "Green"),
    "overdue_rate": ("超期率", "Overdue rate"), "on_time_rate": ("按期办结率", "On-time rate"),
    "median_days_to_close": ("办结天数中位数", "Median days to close"),
    "rebounds": ("反弹", "Rebounds"), "overdue_per_100": ("每百件超期", "Overdue per 100"),
    "previous_rank": ("上周排名", "Last week's rank"),
    "rank_change": ("名次变化", "Rank change"), "worst": ("末位", "Worst"),
    "responsible_unit": ("责任单位", "Responsible unit"), "issue_id": ("问题编号", "Problem"),
    "category": ("问题类型", "Category"), "reported_at": ("上报时间", "Reported"),
    "deadline": ("整改期限", "Deadline"), "bucket": ("提醒类别", "Reminder"),
    "days_overdue": ("超期天数", "Days overdue"),
    "working_days_left": ("剩余工作日", "Working days left"),
    "escalation": ("督办级别", "Escalation"), "escalation_label": ("督办文书", "Document"),
    "address": ("地址", "Address"), "description": ("问题描述", "Description"),
    "overdue": ("超期", "Overdue"), "due_soon": ("临期", "Due soon"),
    "max_days_overdue": ("最长超期天数", "Most days overdue"),
    "reminder_letter": ("提醒函", "Reminder letters"),
    "assignment_sheet": ("交办单", "Assignment sheets"),
    "supervision_order": ("督办单", "Supervision orders"), "problems": ("问题数", "Problems"),
    "round": ("督察轮次", "Round"), "item_id": ("反馈问题编号", "Item"),
    "item": ("反馈问题", "Feedback item"), "tasks": ("整改任务数", "Tasks"),
    "behind": ("滞后", "Behind"), "on_schedule": ("按序时进度", "On schedule"),
    "awaiting_acceptance": ("待验收", "Awaiting acceptance"),
    "closed_off": ("已验收销号", "Closed off"), "rectified": ("已整改", "Rectified"),
    "item_state": ("状态", "State"), "item_rectified": ("整改完成", "Rectified"),
    "problems_open": ("在办问题", "Open problems"),
    "problems_overdue": ("超期问题", "Overdue problems"),
    "problems_closed": ("办结问题", "Closed problems"),
    "unit": ("责任单位", "Responsible unit"), "leader": ("责任领导", "Responsible leader"),
    "task_id": ("整改任务编号", "Task"), "task": ("整改任务", "Task"),
    "rectified_on": ("完成时间", "Rectified on"), "approved_on": ("批准日期", "Approved on"),
    "deadline_before": ("原时限", "Deadline before"), "extended_to": ("延期至", "Extended to"),
    "reason": ("原因", "Reason"), "approved_by": ("批准单位", "Approved by"),
    "letter_no": ("文号", "Number"), "kind": ("文书", "Kind"), "issued_on": ("印发日期", "Issued"),
    "reply_due": ("回复期限", "Reply due"), "replied_on": ("回复日期", "Replied"),
    "escalated_from": ("升级自", "Escalated from"), "escalated_to": ("已升级为", "Escalated to"),
    "days_past_due": ("逾期未复天数", "Days past reply date"),
    "location_flag": ("定位方式", "Placed by"), "geocode_source": ("地址匹配来源", "Matched at"),
    "geocode_score": ("匹配得分", "Match score"),
    "location_precision_m": ("定位精度（米）", "Precision (m)"),
    "address_offset_m": ("地址与坐标相距（米）", "Address from coordinates (m)"),
    "photo_before": ("整改前照片", "Photo before"), "photo_after": ("整改后照片", "Photo after"),
    "missing_after_photo": ("办结缺整改后照片", "Closed without after-photo"),
    # issue 16: enterprises, petitions, campaigns
    "enterprise_key": ("企业标识", "Enterprise key"),
    "enterprise_code": ("统一社会信用代码", "Credit code"),
    "enterprise_name": ("企业名称", "Enterprise"), "name_variants": ("名称写法数", "Spellings"),
    # "problems" and "rebounds" are above
    "problems_window": ("期内问题", "Problems in window"),
    "rebounds_window": ("期内反弹", "Rebounds in window"),
    "categories": ("问题类型", "Categories"), "first_reported": ("首次发现", "First"),
    "last_reported": ("最近发现", "Last"), "repeat_offender": ("屡查屡犯", "Repeat offender"),
    "petition_batch": ("交办批次", "Batch"), "petition_date": ("交办日期", "Handed over"),
    "received": ("交办件数", "Received"), "closure_rate": ("办结率", "Closure rate"),
    "repeated": ("重复投诉", "Repeated"), "repeat_rate": ("重复投诉率", "Repeat rate"),
    "repeated_by": ("重复投诉件", "Repeated by"), "repeat_by": ("重复依据", "Matched by"),
    "campaign": ("专项行动", "Campaign"), "found": ("发现", "Found"),
    "remaining": ("未办结", "Remaining"),
}


def column_labels(columns: Iterable[object], lang: str = "zh") -> dict[str, str]:
    """Header of each known column in ``lang``, for ``DataFrame.rename(columns=...)``.

    Examples
    --------
    >>> column_labels(["rank", "score", "x"], "zh")
    {'rank': '排名', 'score': '得分'}
    """
    index = 1 if lang == "en" else 0
    return {str(c): _COLUMNS[str(c)][index] for c in columns if str(c) in _COLUMNS}


def tr(key: str, lang: str = "zh") -> str:
    """Return the text of ``key`` in ``lang`` (``zh`` or ``en``); the key itself when unknown.

    Examples
    --------
    >>> tr("open"), tr("open", "en")
    ('在办', 'Open')
    """
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def code_label(code: object, lang: str = "zh") -> str:
    """Name a category, source, status, red/yellow/green code or layer name; unknown: as is.

    Examples
    --------
    >>> code_label("water"), code_label("water", "en"), code_label("G111")
    ('水污染', 'Water', 'G111')
    """
    pair = _CODES.get(str(code))
    if pair is None:
        return str(code)
    return pair[1] if lang == "en" else pair[0]
