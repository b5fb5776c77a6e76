/* helpline chat widget: <script src="https://DESK/widget.js" async></script> on any page.
 *
 * It adds a chat bubble; the bubble opens a frame with the desk's /chat?embed=1. The frame keeps
 * the chat's styles apart from the host page, keeps the websocket on the desk's own origin and keeps
 * the visitor's token in the desk's storage, out of the host page's reach. Styles are set through
 * the style properties (not a <style> element), so a strict CSP on the host page does not break it.
 * Optional attributes on the script tag: data-accent="#2f5bea" (colour), data-position="left".
 */
(function () {
  'use strict';
  if (window.helplineWidget) { return; } // the tag was included twice
  var script = document.currentScript || document.querySelector('script[src*="/widget.js"]');
  if (!script) { return; }
  // A page script may open or close the chat: window.helplineWidget.open().
  window.helplineWidget = {
    open: function () { if (bubble) { setOpen(true); } },
    close: function () { if (bubble) { setOpen(false); } }
  };
  var ORIGIN = new URL(script.src, location.href).origin;
  var accent = (script.getAttribute('data-accent') || '').replace('#', '');
  if (!/^[0-9a-fA-F]{6}$/.test(accent)) { accent = '2f5bea'; }
  var LEFT = script.getAttribute('data-position') === 'left';
  var OPEN_KEY = 'helpline.widget.open';
  var SVG = 'http://www.w3.org/2000/svg';
  var CHAT_ICON = 'M12 3C6.9 3 3 6.6 3 11c0 2.2 1 4.2 2.6 5.6L5 21l4.3-2.2c.9.2 1.8.3 2.7.3 5.1 0 9-3.6 9-8.1S17.1 3 12 3z';
  var CLOSE_ICON = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z';
  var LABELS = { en: 'Chat with us', de: 'Chatten Sie mit uns', ru: 'Напишите нам', uk: 'Напишіть нам', hu: 'Írjon nekünk', lv: 'Rakstiet mums' };
  var label = LABELS[(navigator.language || 'en').slice(0, 2).toLowerCase()] || LABELS.en;

  var bubble, icon, badge, box, frame;
  var state = { open: false, ready: false };

  function css(el, styles) { Object.keys(styles).forEach(function (key) { el.style[key] = styles[key]; }); return el; }

  function svgIcon(path) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '28');
    svg.setAttribute('height', '28');
    svg.setAttribute('aria-hidden', 'true');
    var p = document.createElementNS(SVG, 'path');
    p.setAttribute('fill', 'currentColor');
    p.setAttribute('d', path);
    svg.appendChild(p);
    return svg;
  }

  function small() { return window.innerWidth < 520; }

  function build() {
    bubble = css(document.createElement('button'), {
      position: 'fixed', bottom: '24px', width: '60px', height: '60px', borderRadius: '50%', border: '0',
      background: '#' + accent, color: '#fff', cursor: 'pointer', zIndex: '2147483000', padding: '0',
      display: 'flex', alignItems: 'center', justifyContent: 'center',
      boxShadow: '0 8px 24px rgba(20, 30, 60, .28)', transition: 'transform .15s ease'
    });
    bubble.style[LEFT ? 'left' : 'right'] = '24px';
    bubble.id = 'hl-bubble';
    bubble.type = 'button';
    bubble.setAttribute('aria-label', label);
    bubble.setAttribute('aria-expanded', 'false');
    bubble.title = label;
    icon = svgIcon(CHAT_ICON);
    bubble.appendChild(icon);
    badge = css(document.createElement('span'), {
      position: 'absolute', top: '-2px', right: '-2px', minWidth: '20px', height: '20px', padding: '0 6px',
      borderRadius: '10px', background: '#e11d48', color: '#fff', font: '600 12px/20px system-ui, sans-serif',
      display: 'none', boxSizing: 'border-box', textAlign: 'center'
    });
    badge.id = 'hl-unread';
    bubble.appendChild(badge);
    bubble.addEventListener('click', function () { setOpen(!state.open); });
    bubble.addEventListener('mouseenter', function () { bubble.style.transform = 'scale(1.06)'; });
    bubble.addEventListener('mouseleave', function () { bubble.style.transform = ''; });
    document.body.appendChild(bubble);
    window.addEventListener('resize', layout);
    window.addEventListener('message', onMessage);
  }

  function createFrame() {
    box = css(document.createElement('div'), {
      position: 'fixed', zIndex: '2147483001', overflow: 'hidden', background: '#fff',
      boxShadow: '0 16px 48px rgba(20, 30, 60, .28)', transition: 'opacity .18s ease, transform .18s ease',
      opacity: '0', transform: 'translateY(12px)'
    });
    box.id = 'hl-widget';
    frame = css(document.createElement('iframe'), { border: '0', width: '100%', height: '100%', display: 'block' });
    frame.id = 'hl-frame';
    frame.title = label;
    frame.src = ORIGIN + '/chat?embed=1&accent=' + accent;
    frame.setAttribute('allow', 'clipboard-write');
    frame.addEventListener('load', function () { state.ready = true; tell(); });
    box.appendChild(frame);
    document.body.appendChild(box);
  }

  function layout() {
    if (!box) { return; }
    if (small()) {
      css(box, { top: '0', bottom: '0', left: '0', right: '0', width: '100%', height: '100%', borderRadius: '0' });
      bubble.style.display = state.open ? 'none' : 'flex';
    } else {
      css(box, { top: 'auto', bottom: '96px', width: '380px', height: 'min(600px, calc(100vh - 120px))', borderRadius: '16px' });
      box.style.left = LEFT ? '24px' : 'auto';
      box.style.right = LEFT ? 'auto' : '24px';
      bubble.style.display = 'flex';
    }
  }

  function tell() {
    if (frame && state.ready) { frame.contentWindow.postMessage({ helpline: 1, type: 'visibility', open: state.open }, ORIGIN); }
  }

  function setOpen(open) {
    state.open = open;
    if (open && !box) { createFrame(); }
    try { sessionStorage.setItem(OPEN_KEY, open ? '1' : '0'); } catch (e) { /* storage may be blocked */ }
    bubble.setAttribute('aria-expanded', String(open));
    bubble.replaceChild(svgIcon(open ? CLOSE_ICON : CHAT_ICON), bubble.firstChild);
    layout();
    if (box) {
      box.style.visibility = open ? 'visible' : 'hidden';
      box.setAttribute('aria-hidden', String(!open));
      // Let the browser apply the start state before animating to the end state.
      requestAnimationFrame(function () {
        css(box, { opacity: open ? '1' : '0', transform: open ? 'none' : 'translateY(12px)' });
      });
    }
    if (open) { setBadge(0); }
    tell();
  }

  function setBadge(count) {
    badge.textContent = count > 9 ? '9+' : String(count);
    badge.style.display = count > 0 && !state.open ? 'block' : 'none';
  }

  function onMessage(event) {
    var data = event.data;
    if (!frame || event.source !== frame.contentWindow || event.origin !== ORIGIN || !data || data.helpline !== 1) { return; }
    if (data.type === 'close') { setOpen(false); bubble.focus(); }
    if (data.type === 'unread') { setBadge(data.count | 0); }
    if (data.type === 'ready') { state.ready = true; tell(); }
  }

  function start() {
    build();
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(OPEN_KEY) === '1'; } catch (e) { /* storage may be blocked */ }
    if (wasOpen) { setOpen(true); }
  }

  if (document.body) { start(); } else { document.addEventListener('DOMContentLoaded', start); }
})();
