import type { InstallGuide } from '../../lib/install-guide.js';

/**
 * What to download and how to install it, when the LeapBird program is missing or of
 * another version. The setup tab shows it in full; the toolbar popup in short (the files
 * and their steps, then a link to the setup tab for the rest).
 */
export function HostGuide({ guide, short = false }: { guide: InstallGuide; short?: boolean }) {
  return (
    <section class="host-guide" aria-label={guide.headline}>
      <h2>{guide.headline}</h2>
      <p>{guide.explanation}</p>
      {guide.choices.length > 0 && (
        <ul class="choices">
          {guide.choices.map((choice) => (
            <li key={choice.file}>
              For {choice.forWhom}: <strong>{choice.file}</strong>
              {!short && (
                <ol>
                  {choice.steps.map((step) => (
                    <li key={step}>{step}</li>
                  ))}
                </ol>
              )}
            </li>
          ))}
        </ul>
      )}
      <p>{guide.after}</p>
      {!short && <p class="small">{guide.where}</p>}
      {!short && <p class="small muted">{guide.developer}</p>}
    </section>
  );
}
