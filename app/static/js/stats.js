// /dashboard/stats: one area at a time (choosing a street, community or grid clears the other two), and
// months typed in replace the period choice; the server checks every parameter either way.
(function () {
  "use strict";
  var areas = document.querySelectorAll(".gw-stats-area");
  areas.forEach(function (sel) {
    sel.addEventListener("change", function () {
      if (!sel.value) return;
      areas.forEach(function (other) { if (other !== sel) other.value = ""; });
    });
  });
  var period = document.getElementById("gw-stats-period");
  var months = [document.getElementById("gw-stats-start"), document.getElementById("gw-stats-end")];
  months.forEach(function (m) {
    if (m) m.addEventListener("change", function () { if (m.value && period) period.value = "12m"; });
  });
  if (period) period.addEventListener("change", function () {
    if (period.value === "all") months.forEach(function (m) { if (m) m.value = ""; });
  });
})();
