// Monthly monitoring summary: alerts by rule and outcome (stacked bars).
(function () {
  var d = JSON.parse(document.getElementById("summary-data").textContent);
  new Chart(document.getElementById("chart-rules"), {type: "bar",
    options: {animation: false, scales: {x: {stacked: true}, y: {stacked: true, ticks: {precision: 0}}}},
    data: {labels: d.labels, datasets: [
      {label: "待处理/已分派", data: d.open, backgroundColor: "#f0ad4e"},
      {label: "已确认", data: d.confirmed, backgroundColor: "#d9534f"},
      {label: "已排除", data: d.dismissed, backgroundColor: "#9aa5b1"}]}});
})();
