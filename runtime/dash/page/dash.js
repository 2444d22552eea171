// SPDX-License-Identifier: BSD-3-Clause
// The locus dashboard: polls the JSON endpoints once a second and draws
// with plain DOM and SVG.  Strings from the cluster only ever go into
// textContent, never into HTML.
'use strict';
(function () {
  const token = new URLSearchParams(location.search).get('token');
  const SVGNS = 'http://www.w3.org/2000/svg';
  const KEEP_S = 300;        // seconds of task records kept here
  const MAX_BARS = 5000;     // bars drawn at most (the newest)
  let cursor = 0;
  let records = [];
  let windowS = 30;

  function api(path) {
    let url = path;
    if (token) url += (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
      return r.json();
    });
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function bytes(n) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }

  function secs(s) {
    if (s < 1e-3) return (s * 1e6).toFixed(0) + ' us';
    if (s < 1) return (s * 1e3).toFixed(1) + ' ms';
    return s.toFixed(2) + ' s';
  }

  // one colour per function name, stable across reloads
  function color(fn) {
    let h = 2166136261;
    for (let i = 0; i < fn.length; i++) h = Math.imul(h ^ fn.charCodeAt(i), 16777619) >>> 0;
    return 'hsl(' + (h % 360) + ',60%,' + (45 + (h >> 9) % 15) + '%)';
  }

  function row(cells) {
    const tr = el('tr');
    for (const c of cells) {
      const td = el('td', c[1] || '', c[0]);
      tr.appendChild(td);
    }
    return tr;
  }

  function drawWorkers(ws) {
    const tb = document.querySelector('#workers-table tbody');
    tb.replaceChildren();
    for (const w of ws.workers) {
      const tr = row([
        [w.id], [w.host, 'l'], [w.pid], [w.numa], [w.cpuset, 'l'], [w.nthreads],
        [w.running], [w.queued + ' / ' + w.sched_queued],
        [bytes(w.bytes_held)], [bytes(w.bytes_reserved)],
        [bytes(w.bytes_mapped)], [bytes(w.bytes_rma)], [bytes(w.bytes_inline)],
        [w.tasks_local], [w.tasks_remote], [w.tasks_done],
        [w.heartbeat_lag.toFixed(1) + ' s ago']]);
      tr.className = 'worker';
      tr.dataset.id = w.id;
      tb.appendChild(tr);
    }
  }

  function drawStream(ws, now) {
    const box = document.getElementById('stream-box');
    const s = document.getElementById('stream-svg');
    // lanes: one per worker thread; one per worker while the scheduler does
    // not know thread indices (thread -1)
    const lanes = new Map();
    const lane = function (w, t) {
      const k = w + ':' + t;
      if (!lanes.has(k)) lanes.set(k, { w: w, t: t });
      return k;
    };
    for (const w of ws.workers) lane(w.id, -1);
    const t0 = now - windowS;
    const shown = [];
    for (let i = records.length - 1; i >= 0 && shown.length < MAX_BARS; i--) {
      const r = records[i];
      if (r.start + r.duration < t0) continue;
      shown.push(r);
      lane(r.worker, r.thread);
    }
    const keys = Array.from(lanes.keys()).sort(function (a, b) {
      const x = lanes.get(a), y = lanes.get(b);
      return x.w - y.w || x.t - y.t;
    });
    const index = new Map(keys.map(function (k, i) { return [k, i]; }));
    const LH = 18, LEFT = 110;
    const W = Math.max(600, (box.clientWidth || 1000) - 2);
    const H = Math.max(1, keys.length) * LH + 20;
    s.replaceChildren();
    s.setAttribute('width', W);
    s.setAttribute('height', H);
    keys.forEach(function (k, i) {
      const l = lanes.get(k);
      s.appendChild(svg('text', { x: 4, y: i * LH + 13 },
        'worker ' + l.w + (l.t >= 0 ? ' / ' + l.t : '')));
      s.appendChild(svg('line', { x1: LEFT, x2: W, y1: (i + 1) * LH, y2: (i + 1) * LH }));
    });
    const scale = (W - LEFT) / windowS;
    const fns = new Set();
    // transfers: from the lane of the worker that held the task's largest
    // moved input to the task's bar (drawn first, under the bars)
    let transfers = 0;
    for (const r of shown) {
      if (!(r.src_worker > 0)) continue;
      const from = index.get(r.src_worker + ':-1');
      const to = index.get(r.worker + ':' + r.thread);
      if (from === undefined || to === undefined) continue;
      const x = Math.max(LEFT, LEFT + (r.start - t0) * scale);
      s.appendChild(svg('line', { class: 'transfer', x1: x, x2: x,
        y1: from * LH + LH / 2, y2: to * LH + LH / 2 }));
      transfers++;
    }
    for (const r of shown) {
      const x0 = Math.max(LEFT, LEFT + (r.start - t0) * scale);
      const x1 = Math.max(x0 + 1, LEFT + (r.start + r.duration - t0) * scale);
      const i = index.get(r.worker + ':' + r.thread);
      const rect = svg('rect', {
        class: 'bar' + (r.status ? ' failed-task' : ''), x: x0.toFixed(1),
        y: i * LH + 2, width: (x1 - x0).toFixed(1), height: LH - 4,
        fill: r.status ? '#d24b3a' : color(r.fn)
      });
      rect.appendChild(svg('title', {}, r.fn + ' on worker ' + r.worker + ': ' +
        secs(r.duration) + (r.status ? ' (failed)' : '')));
      s.appendChild(rect);
      fns.add(r.fn);
    }
    for (let k = 0; k <= 4; k++) {
      const x = LEFT + k * (W - LEFT - 30) / 4;
      const ago = windowS * (1 - k / 4);
      s.appendChild(svg('text', { x: x, y: H - 4 },
        ago ? '-' + (ago % 1 ? ago.toFixed(1) : ago) + ' s' : 'now'));
    }
    s.dataset.bars = String(shown.length);
    s.dataset.transfers = String(transfers);
    const legend = document.getElementById('legend');
    legend.replaceChildren();
    for (const fn of Array.from(fns).sort()) {
      const sp = el('span');
      const sw = el('i');
      sw.style.background = color(fn);
      sp.appendChild(sw);
      sp.appendChild(document.createTextNode(fn));
      legend.appendChild(sp);
    }
    document.getElementById('stream-note').textContent =
      shown.length + ' tasks in the last ' + windowS + ' s' +
      (transfers ? ', ' + transfers + ' fetched an input from another worker (grey lines)' : '') +
      (shown.length >= MAX_BARS ? ' (the newest ' + MAX_BARS + ' drawn)' : '') +
      '; one lane per worker thread.';
  }

  function segments(bar, parts) {
    const total = parts.reduce(function (a, p) { return a + p[0]; }, 0);
    bar.replaceChildren();
    for (const p of parts) {
      if (!p[0]) continue;
      const d = el('div', p[1]);
      d.style.width = (100 * p[0] / total) + '%';
      d.title = p[1] + ': ' + p[2];
      bar.appendChild(d);
    }
  }

  function drawProgress(pr) {
    const box = document.getElementById('progress-bars');
    box.replaceChildren();
    for (const f of pr.functions) {
      const r = el('div', 'prow');
      r.dataset.fn = f.name;
      r.appendChild(el('span', 'name', f.name));
      const bar = el('div', 'bar');
      segments(bar, [[f.done, 'done', f.done], [f.running, 'running', f.running],
        [f.waiting, 'waiting', f.waiting], [f.failed, 'failed', f.failed]]);
      r.appendChild(bar);
      r.appendChild(el('span', 'count', f.done + ' / ' + f.submitted + ' done' +
        (f.failed ? ', ' + f.failed + ' failed' : '') +
        (f.running ? ', ' + f.running + ' running' : '')));
      box.appendChild(r);
    }
    if (!pr.functions.length) box.appendChild(el('p', 'note', 'no tasks yet'));
  }

  function drawLocality(lo) {
    const moved = lo.moved.mapped + lo.moved.rma + lo.moved.inline;
    segments(document.getElementById('locality-bar'), [
      [lo.placed.stayed, 'stayed', bytes(lo.placed.stayed)],
      [lo.moved.mapped, 'mapped', bytes(lo.moved.mapped)],
      [lo.moved.rma, 'rma', bytes(lo.moved.rma)],
      [lo.moved.inline, 'inline', bytes(lo.moved.inline)]]);
    document.getElementById('locality-tasks').textContent =
      bytes(lo.placed.stayed) + ' stayed, ' + bytes(moved) + ' moved (' +
      bytes(lo.moved.mapped) + ' mapped, ' + bytes(lo.moved.rma) + ' RMA, ' +
      bytes(lo.moved.inline) + ' inline); tasks with every input local: ' +
      lo.tasks_local + ', that fetched one: ' + lo.tasks_remote;
    const tb = document.querySelector('#locality-table tbody');
    tb.replaceChildren();
    for (const f of lo.functions) {
      const all = f.stayed + f.same_host + f.other_host;
      tb.appendChild(row([[f.name, 'l'], [f.tasks], [bytes(f.stayed)], [bytes(f.same_host)],
        [bytes(f.other_host)], [all ? (100 * f.stayed / all).toFixed(1) + ' %' : '-']]));
    }
  }

  function drawSummary(st) {
    const t = st.tasks;
    document.getElementById('summary').textContent =
      st.workers + ' workers, ' + st.threads + ' threads; tasks: ' + t.done + ' done / ' +
      t.submitted + ' submitted, ' + t.running + ' running, ' + t.waiting + ' waiting, ' +
      t.failed + ' failed; scheduler on ' + st.host + ' pid ' + st.pid + ', up ' +
      secs(st.now) + '; locus ' + st.version;
  }

  async function tick() {
    const err = document.getElementById('error');
    try {
      const all = await Promise.all([api('/api/status'), api('/api/workers'),
        api('/api/progress'), api('/api/locality'), api('/api/tasks?since=' + cursor)]);
      const ts = all[4];
      cursor = ts.next;
      for (const r of ts.tasks) records.push(r);
      const keepFrom = ts.now - KEEP_S;
      let drop = 0;
      while (drop < records.length && records[drop].start + records[drop].duration < keepFrom) drop++;
      if (records.length - drop > 20000) drop = records.length - 20000;
      if (drop) records = records.slice(drop);
      drawSummary(all[0]);
      drawWorkers(all[1]);
      drawStream(all[1], ts.now);
      drawProgress(all[2]);
      drawLocality(all[3]);
      err.hidden = true;
    } catch (e) {
      err.textContent = 'cannot reach the scheduler: ' + e.message;
      err.hidden = false;
    }
    setTimeout(tick, 1000);
  }

  document.getElementById('window').addEventListener('change', function (e) {
    windowS = Number(e.target.value);
  });
  tick();
})();
