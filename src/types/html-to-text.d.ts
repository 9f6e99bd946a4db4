// The part of html-to-text's API leadflow uses (the package ships no types of its own).
declare module 'html-to-text' {
  export type SelectorDefinition = {
    selector: string;
    format?: string;
    options?: Record<string, unknown>;
  };
  export type HtmlToTextOptions = {
    wordwrap?: number | false | null;
    selectors?: SelectorDefinition[];
  };
  export function convert(html: string, options?: HtmlToTextOptions): string;
}
