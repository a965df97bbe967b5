// Adds the viewer's local time beside each deadline the server wrote in UTC.
// The page is complete without it; the UTC time stays the reference.
(function () {
  'use strict';
  function localize(root) {
    var fmt = new Intl.DateTimeFormat(undefined, {
      year: 'numeric', month: 'short', day: 'numeric',
      hour: '2-digit', minute: '2-digit', timeZoneName: 'short'
    });
    root.querySelectorAll('time.local[datetime]').forEach(function (t) {
      if (t.dataset.localized) return;
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d.getTime())) return;
      var text = 'your time: ' + fmt.format(d);
      var zone = t.dataset.zone;
      if (zone) {
        try {
          var theirs = new Intl.DateTimeFormat(undefined, {
            year: 'numeric', month: 'short', day: 'numeric',
            hour: '2-digit', minute: '2-digit', timeZoneName: 'short', timeZone: zone
          });
          text += '; ' + t.dataset.zoneOf + ': ' + theirs.format(d);
        } catch (e) { /* a zone this browser does not know: shown in UTC only */ }
      }
      var span = document.createElement('span');
      span.className = 'note';
      span.textContent = ' (' + text + ')';
      t.after(span);
      t.dataset.localized = '1';
    });
  }
  document.addEventListener('DOMContentLoaded', function () { localize(document); });
})();
