// R-MON-9: the peers' distribution of each figure as a histogram, with this physician's bin highlighted.
(function () {
  var data = JSON.parse(document.getElementById("distribution-data").textContent);
  data.forEach(function (d) {
    var values = d.values.map(Number), mine = Number(d.mine);
    var lo = Math.min.apply(null, values.concat([mine])), hi = Math.max.apply(null, values.concat([mine]));
    var bins = 10, width = (hi - lo) / bins || 1, counts = [], labels = [], colours = [];
    for (var i = 0; i < bins; i++) { counts.push(0); labels.push((lo + i * width).toFixed(2) + "–" + (lo + (i + 1) * width).toFixed(2)); }
    values.forEach(function (v) { counts[Math.min(bins - 1, Math.floor((v - lo) / width))] += 1; });
    var mineBin = Math.min(bins - 1, Math.floor((mine - lo) / width));
    for (var j = 0; j < bins; j++) { colours.push(j === mineBin ? "#d9534f" : "#5b8def"); }
    new Chart(document.getElementById("chart-" + d.metric), {type: "bar", options: {animation: false, plugins: {legend: {display: false}}},
      data: {labels: labels, datasets: [{label: d.label, data: counts, backgroundColor: colours}]}});
  });
})();
