// @ts-check
// The admin page's live preview frame: applies the settings the owner is
// typing (sent by the admin page, and only by it) to the widget in this frame.
window.addEventListener('message', (event) => {
  if (event.origin !== location.origin || event.source !== window.parent) return;
  const config = event.data?.airlockPreview;
  const page = /** @type {Window & { Airlock?: { widgets?: { configure(config: object): void }[] } }} */ (window);
  if (config && typeof config === 'object') page.Airlock?.widgets?.[0]?.configure(config);
});
