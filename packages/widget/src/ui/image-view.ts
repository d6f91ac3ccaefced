import { elementMaker } from './dom';
import { createFormView, type FormView, type FormViewOptions } from './completion-view';

/** An image widget: prompt, progress, the image, download. */
export interface ImageView extends FormView {
  showImage(source: string, prompt: string): void;
}

/** Builds an image widget's view. */
export function createImageView(options: FormViewOptions): ImageView {
  const view = createFormView(options, [{ name: 'prompt', label: options.strings.prompt, type: 'textarea', required: true, maxLength: 4000 }]);
  const make = elementMaker(options.shell.document);
  return {
    ...view,
    showImage(source, prompt) {
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
