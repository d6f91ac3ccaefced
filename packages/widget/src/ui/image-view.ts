import { createFormView, type FormView } from './completion-view';
import type { ViewOptions } from './view';

/** Builds an image widget's view: prompt, progress, the image, download. */
export function createImageView(options: ViewOptions): FormView {
  const view = createFormView(options, [{ name: 'prompt', label: options.strings.prompt, type: 'textarea', required: true, maxLength: 4000 }]);
  const make = view.controls.make;
  return {
    ...view,
    addAnswer({ image: source, content: prompt }) {
      if (!source) return;
      // The prompt describes the picture, so it is the alternative text.
      const image = make('img', { part: 'image', 'data-airlock': 'image', alt: prompt });
      image.src = source;
      const download = make('a', { part: 'download', 'data-airlock': 'download', download: 'image.png' }, options.strings.download);
      download.href = source;
      view.result.replaceChildren(image, download);
      view.result.hidden = false;
    },
  };
}
