"use client";

import Markdown, { type Components } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import { cn } from "@/lib/utils";

// Agents' Markdown, rendered for the overseer: GitHub-flavoured (tables, task lists,
// strikethrough, autolinks) with highlighted code. Bodies are written by agents, so nothing in
// them may run: raw HTML is shown as the text it is (never parsed into elements), link targets go
// through react-markdown's URL filter (no javascript: and the like) and open in a new tab without
// an opener, and images are links rather than loaded (a remote image would tell its host who read
// the mail, and when).

interface MdNode {
  type: string;
  value?: string;
  children?: MdNode[];
}

/** remark plugin: HTML in the Markdown becomes literal text. */
function htmlAsText() {
  const walk = (node: MdNode) => {
    if (node.type === "html") node.type = "text";
    node.children?.forEach(walk);
  };
  return (tree: MdNode) => walk(tree);
}

const components: Components = {
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
  img: ({ src, alt }) =>
    typeof src === "string" && src ? (
      <a href={src} target="_blank" rel="noopener noreferrer nofollow">
        [image{alt ? `: ${alt}` : ""}]
      </a>
    ) : (
      <span>[image{alt ? `: ${alt}` : ""}]</span>
    ),
  // Task-list checkboxes show state; they are not controls.
  input: ({ type, checked }) => (type === "checkbox" ? <input type="checkbox" checked={Boolean(checked)} disabled aria-label={checked ? "done" : "not done"} /> : null),
};

export function MarkdownBody({ text, className, ...props }: { text: string; className?: string } & React.ComponentProps<"div">) {
  return (
    <div className={cn("markdown", className)} {...props}>
      <Markdown remarkPlugins={[remarkGfm, htmlAsText]} rehypePlugins={[[rehypeHighlight, { detect: false }]]} components={components}>
        {text}
      </Markdown>
    </div>
  );
}
