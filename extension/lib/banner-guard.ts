/**
 * The stylesheet that keeps a message from hiding, restyling or covering LeapBird's banner.
 * The background inserts it into the message pane with the USER origin: in the CSS cascade a
 * user `!important` rule beats every author rule, `!important` or not, and a message's CSS
 * is author CSS. So whatever the message's own styles say:
 *  - the banner's element (a child of the root, before the body, which the HTML parser never
 *    puts message content in) is reset and drawn as a block, stuck to the top of the pane,
 *    above everything else, with no generated content or first-line style of the message's;
 *  - the root element gets only the defaults (a filter, transform, zoom, opacity, clip or
 *    `display: none` on the root would act on the banner too), and no generated content
 *    (a pseudo-element of the root could be drawn over the banner);
 *  - the body is its own stacking context below the banner, so nothing in the message, even
 *    `position: fixed` with the highest z-index, can be drawn over it.
 * Inside the banner a closed shadow root keeps the message's selectors out. Pure data.
 */
export const BANNER_TAG = 'leapbird-banner';

export const BANNER_GUARD_CSS = `
:root { all: revert !important; }
:root::before, :root::after { content: none !important; display: none !important; }
:root > body { isolation: isolate !important; z-index: auto !important; }
:root > ${BANNER_TAG} {
  all: initial !important;
  display: block !important;
  position: sticky !important;
  top: 0 !important;
  z-index: 2147483647 !important;
}
:root > ${BANNER_TAG}::before, :root > ${BANNER_TAG}::after, :root > ${BANNER_TAG}::marker {
  content: none !important;
  display: none !important;
}
:root > ${BANNER_TAG}::first-line, :root > ${BANNER_TAG}::first-letter { all: unset !important; }
`;
