// 巡察成果展示: the dashboard's figures as charts. Vanilla JS, inline SVG, nothing from elsewhere.
// The access token lives in this tab's sessionStorage only; a 401 asks to log in again.
"use strict";
(() => {
  const TOKEN = "inspection.results.token";
  const USER = "inspection.results.user";
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = { inspected: "#2e7d32", planned: "#c77700", remaining: "#bcccdc",
    done: "#2e7d32", due: "#2f6fb0", overdue: "#b42318", bar: "#8b1a1a" };
  const $ = (id) => document.getElementById(id);
  const ZH = { "Accept-Language": "zh-CN" }; // the page is in Chinese: so are the errors shown
  let optionsLoaded = false;

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  const fmt = (n) => Number(n).toLocaleString("zh-CN");
  const yuan = (s) => Number(s).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function show(section) {
    for (const id of ["login", "status", "content"]) $(id).hidden = id !== section;
    $("bar").hidden = section === "login";
  }
  function status(text) { $("status-text").textContent = text; show("status"); }

  function askLogin(message) {
    sessionStorage.removeItem(TOKEN);
    $("login-error").textContent = message || "";
    show("login");
    $("username").focus();
  }

  async function login(event) {
    event.preventDefault();
    const body = new URLSearchParams({ grant_type: "password",
      username: $("username").value, password: $("password").value });
    let resp;
    try {
      resp = await fetch("/api/v1/auth/token", { method: "POST", body, headers: ZH });
    } catch (e) {
      $("login-error").textContent = "无法连接服务器";
      return;
    }
    if (!resp.ok) {
      const problem = await resp.json().catch(() => ({}));
      $("login-error").textContent = problem.detail || problem.title || "登录失败";
      return;
    }
    const grant = await resp.json();
    sessionStorage.setItem(TOKEN, grant.access_token);
    sessionStorage.setItem(USER, $("username").value);
    $("password").value = "";
    start();
  }

  function logout() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
    optionsLoaded = false;
    askLogin("");
  }

  async function dashboard(params) {
    const resp = await fetch("/api/v1/dashboard?" + params.toString(), {
      headers: { ...ZH, Authorization: "Bearer " + sessionStorage.getItem(TOKEN), Accept: "application/json" },
    });
    if (resp.status === 401) { askLogin("登录已过期，请重新登录"); return null; }
    // the policy table lets the office and the superior office read the figures, nobody else
    if (resp.status === 403) { status("仅巡察办和上级巡察办可查看统计数据"); return null; }
    if (!resp.ok) {
      const problem = await resp.json().catch(() => ({}));
      status((problem.title || "无法读取统计数据") + (problem.detail ? "：" + problem.detail : ""));
      return null;
    }
    return resp.json();
  }

  function scopeParams() {
    const value = $("scope").value;
    const params = new URLSearchParams();
    if (value.startsWith("term:")) params.set("term_id", value.slice(5));
    if (value.startsWith("round:")) params.set("round_id", value.slice(6));
    return params;
  }

  async function loadOptions() {
    const all = await dashboard(new URLSearchParams());
    if (!all) return false;
    const select = $("scope");
    for (const t of all.targets.terms) {
      select.append(el("option", { value: "term:" + t.term_id }, "届次：" + t.name));
      for (const r of all.rounds.items.filter((x) => x.term_id === t.term_id)) {
        select.append(el("option", { value: "round:" + r.id }, "　第" + r.number + "轮 " + r.name));
      }
    }
    const wanted = new URLSearchParams(location.search);
    const pick = wanted.get("round_id") ? "round:" + wanted.get("round_id")
      : wanted.get("term_id") ? "term:" + wanted.get("term_id") : "";
    if (pick && [...select.options].some((o) => o.value === pick)) select.value = pick;
    optionsLoaded = true;
    return true;
  }

  async function start() {
    if (!sessionStorage.getItem(TOKEN)) { askLogin(""); return; }
    $("who").textContent = sessionStorage.getItem(USER) || "";
    status("正在读取统计数据…");
    if (!optionsLoaded && !(await loadOptions())) return;
    const params = scopeParams();
    history.replaceState(null, "", "/results" + (params.toString() ? "?" + params : ""));
    const d = await dashboard(params);
    if (d) render(d);
  }

  // ---- drawing ----

  function card(key, name, value, unit) {
    const box = el("div", { class: "card" });
    const line = el("div");
    const size = value.length > 8 ? "value long" : "value";
    line.append(el("span", { class: size, "data-figure": key }, value), el("span", { class: "unit" }, unit));
    box.append(line, el("div", { class: "name" }, name));
    return box;
  }

  function hbars(rows, { width = 560, labelWidth = 150, max } = {}) {
    // rows: [{label, value, key, color}]
    const top = max || Math.max(1, ...rows.map((r) => r.value));
    const rowH = 30;
    const root = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 6}`, role: "img" });
    rows.forEach((r, i) => {
      const y = i * rowH + 4;
      const w = Math.max(r.value ? 2 : 0, ((width - labelWidth - 70) * r.value) / top);
      root.append(svg("text", { x: labelWidth - 8, y: y + 17, "text-anchor": "end" }, r.label));
      root.append(svg("rect", { x: labelWidth, y, width: w, height: 22, rx: 3, fill: r.color || COLORS.bar }));
      root.append(svg("text", { x: labelWidth + w + 6, y: y + 17, "data-figure": r.key }, fmt(r.value)));
    });
    return root;
  }

  function stacked(parts, { width = 560, height = 26, label } = {}) {
    // parts: [{name, value, color, key}]; one bar, then a legend
    const total = parts.reduce((s, p) => s + p.value, 0);
    const root = svg("svg", { viewBox: `0 0 ${width} ${height + 58}`, role: "img" });
    if (label) root.append(svg("text", { x: 0, y: 14 }, label));
    let x = 0;
    const y = label ? 22 : 4;
    for (const p of parts) {
      const w = total ? (width * p.value) / total : 0;
      if (w > 0) root.append(svg("rect", { x, y, width: w, height, fill: p.color }));
      x += w;
    }
    if (!total) root.append(svg("rect", { x: 0, y, width, height, fill: "#eef2f7" }));
    let lx = 0;
    for (const p of parts) {
      root.append(svg("rect", { x: lx, y: y + height + 12, width: 12, height: 12, fill: p.color }));
      const t = svg("text", { x: lx + 16, y: y + height + 23 }, p.name + " ");
      t.append(svg("tspan", { "data-figure": p.key, "font-weight": "700" }, fmt(p.value)));
      root.append(t);
      lx += 150;
    }
    return root;
  }

  function render(d) {
    $("summary").textContent = d.summary;
    $("as-of").textContent = d.as_of;
    const option = $("scope").selectedOptions[0];
    $("scope-label").textContent = option ? option.textContent.trim() : "全部";
    const failed = d.checks.filter((c) => !c.ok);
    $("consistency").textContent = d.consistent ? "　✓ 对账一致" : "　✗ 对账未通过";
    $("consistency").className = d.consistent ? "ok" : "error";
    $("failed-checks").replaceChildren(...failed.map((c) => el("li", {}, c.detail)));

    $("cards").replaceChildren(
      card("rounds.total", "巡察轮次", fmt(d.rounds.total), "轮"),
      card("groups.total", "巡察组", fmt(d.groups.total), "个"),
      card("targets.inspected", "巡察对象", fmt(d.targets.inspected), "个"),
      card("findings.confirmed", "发现问题", fmt(d.findings.confirmed), "个"),
      card("leads.handed_over", "移交问题线索", fmt(d.leads.handed_over), "件"),
      card("leads.cases_filed", "立案", fmt(d.leads.cases_filed), "件"),
      card("persons.sanctioned", "给予党政纪处分", fmt(d.persons.sanctioned), "人"),
      card("money_recovered", "追回资金", yuan(d.money_recovered), "元"),
      card("rectification.fed_back", "反馈整改事项", fmt(d.rectification.fed_back), "个"),
      card("suggestions.total", "提出意见建议", fmt(d.suggestions.total), "条"),
      card("rules", "建立健全制度", fmt(d.rules), "项"),
    );

    const coverage = $("coverage-chart");
    coverage.replaceChildren();
    const c = d.targets.coverage;
    coverage.append(stacked([
      { name: "已巡察", value: c.inspected, color: COLORS.inspected, key: "coverage.inspected" },
      { name: "已安排", value: c.planned, color: COLORS.planned, key: "coverage.planned" },
      { name: "未覆盖", value: c.remaining, color: COLORS.remaining, key: "coverage.remaining" },
    ], { label: `全覆盖目标 ${fmt(c.goal)} 个，已巡察 ${c.inspected_percent}%` }));
    for (const t of d.targets.terms.length > 1 ? d.targets.terms : []) {
      coverage.append(stacked([
        { name: "已巡察", value: t.inspected, color: COLORS.inspected, key: "coverage." + t.term_id + ".inspected" },
        { name: "已安排", value: t.planned, color: COLORS.planned, key: "coverage." + t.term_id + ".planned" },
        { name: "未覆盖", value: t.remaining, color: COLORS.remaining, key: "coverage." + t.term_id + ".remaining" },
      ], { label: `${t.name}：${t.inspected_percent}%` }));
    }

    $("funnel-chart").replaceChildren(hbars(d.funnel.map((s) => ({
      label: s.label, value: s.count, key: "funnel." + s.step }))));

    const r = d.rectification;
    $("rectification-chart").replaceChildren(stacked([
      { name: "已销号", value: r.done, color: COLORS.done, key: "rectification.done" },
      { name: "整改中（未到期）", value: r.due, color: COLORS.due, key: "rectification.due" },
      { name: "逾期未销号", value: r.overdue, color: COLORS.overdue, key: "rectification.overdue" },
    ], { label: `反馈整改事项 ${fmt(r.fed_back)} 个` }));

    const categories = [...d.findings.by_category].sort((a, b) => b.count - a.count).slice(0, 10);
    $("category-chart").replaceChildren(categories.length
      ? hbars(categories.map((x) => ({ label: x.name.slice(0, 12), value: x.count, key: "category." + x.code })), { labelWidth: 190 })
      : el("p", { class: "note" }, "尚无问题"));

    const overdue = $("overdue").tBodies[0];
    overdue.replaceChildren(...r.overdue_items.map((i) => {
      const tr = el("tr", { "data-overdue": i.id });
      tr.append(el("td", {}, i.title), el("td", {}, i.owner_name), el("td", {}, i.deadline),
        el("td", { class: "num" }, fmt(i.days_overdue)), el("td", {}, i.status_label));
      return tr;
    }));
    $("overdue-none").hidden = r.overdue_items.length > 0;

    $("rounds").tBodies[0].replaceChildren(...d.rounds.items.map((x) => {
      const tr = el("tr");
      tr.append(el("td", {}, "第" + x.number + "轮 " + x.name), el("td", {}, x.kind_label),
        el("td", {}, x.state_label), el("td", { class: "num" }, fmt(x.groups)),
        el("td", { class: "num" }, fmt(x.targets)), el("td", { class: "num" }, fmt(x.findings)));
      return tr;
    }));
    show("content");
    document.body.dataset.loaded = "true";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("scope").addEventListener("change", start);
    start();
  });
})();
