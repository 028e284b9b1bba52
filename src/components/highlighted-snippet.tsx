/**
 * A search snippet: the engine marks matches with <mark>…</mark> around text that is otherwise the
 * agent's own, HTML included. Only the markers become elements; everything else stays text.
 */
export function HighlightedSnippet({ snippet }: { snippet: string }) {
  const parts = snippet.split(/<mark>|<\/mark>/);
  return (
    <span data-testid="snippet">
      {parts.map((part, index) => (index % 2 === 1 ? <mark key={index}>{part}</mark> : <span key={index}>{part}</span>))}
    </span>
  );
}
