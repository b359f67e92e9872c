// The what-if explorer of report/explore.html (abm/report/explore.py embeds it).
(function(){
  var D = JSON.parse(document.getElementById('explore-data').textContent);
  var scenSel = document.getElementById('explore-scenario');
  var outSel = document.getElementById('explore-outcome');
  scenSel.value = scenSel.dataset.default;
  function sig(x, d){
    if (x === null || !isFinite(x)) return 'n/a';
    var a = Math.abs(x);
    if (a === 0) return '0';
    var dec = Math.max(0, d - 1 - Math.floor(Math.log10(a)));
    return x.toLocaleString('en-US', {minimumFractionDigits: dec, maximumFractionDigits: dec});
  }
  function show(m, v){
    var o = D.outcomes[m];
    if (v === null || !isFinite(v)) return 'n/a';
    var s = sig(v / o.factor, 3);
    var neg = s.charAt(0) === '-';
    if (neg) s = s.slice(1);
    return (neg ? '\u2212' : '') + o.prefix + s + o.suffix;
  }
  function q(sorted, p){
    if (!sorted.length) return null;
    var pos = (sorted.length - 1) * p, lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  }
  function inputs(i){ return [document.getElementById('lo-' + i), document.getElementById('hi-' + i)]; }
  function selected(s){
    var n = s.outcomes[D.order[0]] ? s.outcomes[D.order[0]].length : 0, keep = [];
    for (var r = 0; r < n; r++) keep.push(true);
    D.parameters.forEach(function(p, i){
      var vals = s.params[p.name];
      if (!vals) return;
      var io = inputs(i), lo = +io[0].value, hi = +io[1].value, last = p.ticks.length - 1;
      for (var r = 0; r < n; r++) {
        var v = vals[r];
        if (v === null) continue;
        if ((lo > 0 && v < p.ticks[lo]) || (hi < last && v > p.ticks[hi])) keep[r] = false;
      }
    });
    return keep;
  }
  function fmtTick(p, v){ return (+v.toPrecision(4)).toLocaleString('en-US', {maximumFractionDigits: 6}) + (p.unit ? (p.unit === '%' ? '%' : ' ' + p.unit) : ''); }
  function update(){
    var s = D.scenarios[+scenSel.value];
    D.parameters.forEach(function(p, i){
      var io = inputs(i), applies = !!s.params[p.name];
      if (+io[0].value > +io[1].value) { io[0].value = io[1].value; }
      io[0].disabled = io[1].disabled = !applies;
      document.getElementById('range-' + i).textContent = applies ?
        fmtTick(p, p.ticks[+io[0].value]) + ' to ' + fmtTick(p, p.ticks[+io[1].value]) :
        'does not apply to this scenario';
    });
    var keep = selected(s), idx = [];
    keep.forEach(function(k, r){ if (k) idx.push(r); });
    var weight = function(r){ return s.n ? s.n[r] : 1; };
    var runs = 0, total = 0;
    keep.forEach(function(k, r){ total += weight(r); if (k) runs += weight(r); });
    var count = document.getElementById('explore-count');
    count.dataset.value = runs;
    count.textContent = runs.toLocaleString('en-US') + ' of ' + total.toLocaleString('en-US') +
      ' runs of ' + s.name + ' lie inside the chosen ranges' +
      (s.n ? ' (' + idx.length + ' design points)' : '') + '.';
    var ul = document.getElementById('explore-criteria');
    ul.innerHTML = '';
    D.criteria.forEach(function(c, j){
      var f = s.fail[String(j)], k = 0;
      idx.forEach(function(r){ k += f[r]; });
      var share = runs ? k / runs : null;
      var li = document.createElement('li');
      li.dataset.criterion = c.text;
      li.dataset.value = share === null ? '' : share;
      li.dataset.count = k;
      li.textContent = runs ? (c.words.charAt(0).toUpperCase() + c.words.slice(1) + ' in ' +
        Math.round(100 * share) + '% of these runs (' + k + ' of ' + runs + ').') :
        'No runs inside these ranges.';
      ul.appendChild(li);
    });
    var body = document.querySelector('#explore-stats tbody');
    body.innerHTML = '';
    D.order.forEach(function(m){
      var vals = [], sum = 0, wsum = 0;
      idx.forEach(function(r){ var v = s.outcomes[m][r]; if (v !== null) { vals.push(v); sum += v * weight(r); wsum += weight(r); } });
      vals.sort(function(a, b){ return a - b; });
      var stats = {mean: wsum ? sum / wsum : null, p05: q(vals, 0.05), p50: q(vals, 0.5), p95: q(vals, 0.95)};
      var tr = document.createElement('tr'), td = document.createElement('td');
      td.className = 'text'; td.textContent = D.outcomes[m].label; tr.appendChild(td);
      ['mean', 'p05', 'p50', 'p95'].forEach(function(f){
        var c = document.createElement('td');
        c.dataset.metric = m; c.dataset.field = f;
        c.dataset.value = stats[f] === null ? '' : stats[f];
        c.textContent = show(m, stats[f]);
        tr.appendChild(c);
      });
      body.appendChild(tr);
    });
    var m = outSel.value, o = D.outcomes[m];
    var all = s.outcomes[m].filter(function(v){ return v !== null; }).map(function(v){ return v / o.factor; });
    var sel = idx.map(function(r){ return s.outcomes[m][r]; }).filter(function(v){ return v !== null; }).map(function(v){ return v / o.factor; });
    var what = s.n ? 'design points' : 'runs';
    var lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
    var bins = {start: lo, end: hi + (hi - lo) * 1e-9 + 1e-12, size: (hi - lo) / 30 || 1};
    Plotly.react('explore-chart', [
      {type: 'histogram', x: all, name: 'all ' + what, marker: {color: '#bbbbbb'}, opacity: 0.6, xbins: bins, autobinx: false},
      {type: 'histogram', x: sel, name: what + ' in the ranges', marker: {color: s.colour}, opacity: 0.8, xbins: bins, autobinx: false}
    ], {barmode: 'overlay', margin: {t: 30, r: 20, b: 50, l: 60}, height: 380,
        xaxis: {title: {text: o.label + (o.unit ? ' (' + o.unit + ')' : '')}},
        yaxis: {title: {text: what}}, legend: {orientation: 'h', y: 1.12},
        font: {family: getComputedStyle(document.body).fontFamily}},
      {displaylogo: false, responsive: true});
    document.getElementById('explore-chart').dataset.selected = sel.length;
  }
  D.parameters.forEach(function(p, i){
    var io = inputs(i);
    io[0].addEventListener('input', function(){ if (+io[0].value > +io[1].value) io[1].value = io[0].value; update(); });
    io[1].addEventListener('input', function(){ if (+io[1].value < +io[0].value) io[0].value = io[1].value; update(); });
  });
  scenSel.addEventListener('change', update);
  outSel.addEventListener('change', update);
  update();
})();
